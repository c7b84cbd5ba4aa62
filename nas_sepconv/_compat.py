"""Old module paths of the flat 0.1 layout, kept importable for one release.

``import nas_sepconv.trial`` (and every other module that moved into a subpackage) still
works, through an import hook that hands out the module's new home and warns with a
``DeprecationWarning`` naming it. Delete this file, and its install line in
``nas_sepconv/__init__.py``, in the release after 0.2.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from types import ModuleType

MOVED = {
    "nas_sepconv.io": "nas_sepconv.core.io",
    "nas_sepconv.validation": "nas_sepconv.core.validation",
    "nas_sepconv.pareto": "nas_sepconv.frontier.pareto",
    "nas_sepconv.cell": "nas_sepconv.models.cell",
    "nas_sepconv.network": "nas_sepconv.models.network",
    "nas_sepconv.resnet": "nas_sepconv.models.resnet",
    "nas_sepconv.nni_ops": "nas_sepconv.models.nni_ops",
    "nas_sepconv.genotype": "nas_sepconv.genotypes.cell",
    "nas_sepconv.genotype_edge": "nas_sepconv.genotypes.edge",
    "nas_sepconv.darts_text": "nas_sepconv.genotypes.darts_text",
    "nas_sepconv.genotype_files": "nas_sepconv.genotypes.files",
    "nas_sepconv.named_genotypes": "nas_sepconv.genotypes.named",
    "nas_sepconv.genotype_sampling": "nas_sepconv.genotypes.sampling",
    "nas_sepconv.resnet_genotype": "nas_sepconv.genotypes.resnet",
    "nas_sepconv.architecture": "nas_sepconv.genotypes.architecture",
    "nas_sepconv.data": "nas_sepconv.evaluation.data",
    "nas_sepconv.data_io": "nas_sepconv.evaluation.readers",
    "nas_sepconv.augment": "nas_sepconv.evaluation.augment",
    "nas_sepconv.train": "nas_sepconv.evaluation.train",
    "nas_sepconv.trial": "nas_sepconv.evaluation.trial",
    "nas_sepconv.decompose": "nas_sepconv.compress.decompose",
    "nas_sepconv.decompose_svd": "nas_sepconv.compress.svd",
    "nas_sepconv.conv_layers": "nas_sepconv.compress.dense",
    "nas_sepconv.search_job": "nas_sepconv.runs.job",
    "nas_sepconv.run_dir": "nas_sepconv.runs.run_dir",
    "nas_sepconv.run_record": "nas_sepconv.runs.record",
    "nas_sepconv.report": "nas_sepconv.runs.report",
    "nas_sepconv.report_pages": "nas_sepconv.runs.pages",
    "nas_sepconv.plots": "nas_sepconv.runs.plots",
    "strategies.blk_search": "nas_sepconv.compress.hsa",
}


class _MovedLoader(importlib.abc.Loader):
    """Fills the old module with the new module's names (PEP 562 forwards the rest)."""

    def exec_module(self, module: ModuleType) -> None:
        new_name = MOVED[module.__name__]
        warnings.warn(f"`{module.__name__}` moved to `{new_name}`; the old path goes in the next release.",
                      DeprecationWarning, stacklevel=2)
        new = importlib.import_module(new_name)
        module.__dict__.update({k: v for k, v in vars(new).items() if not k.startswith("__")})
        module.__getattr__ = lambda name: getattr(new, name)  # type: ignore[attr-defined]


class _MovedFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):  # noqa: D102 (importlib protocol)
        if fullname in MOVED:
            return importlib.util.spec_from_loader(fullname, _MovedLoader())
        return None


def install() -> None:
    """Put the finder on ``sys.meta_path`` once."""
    if not any(isinstance(f, _MovedFinder) for f in sys.meta_path):
        sys.meta_path.append(_MovedFinder())
