"""NNI model spaces: the DARTS-style cell space and the CIFAR ResNet and MobileNet backbone spaces.

Importing this package also registers our ops in NNI's ``nasnet.OPS``.
"""
# ruff: noqa: E402 (the imports below follow import_nni())
from nas_sepconv.core.quiet import import_nni

import_nni()  # before NNI loads: quiets its import-time warnings
from nas_sepconv.models.nni_ops import register_nni_ops

from .darts_space import SepConvDartsSpace
from .mobilenet import MobileNetSpace
from .resnet import ResNetSpace

register_nni_ops()

__all__ = ["MobileNetSpace", "ResNetSpace", "SepConvDartsSpace"]
