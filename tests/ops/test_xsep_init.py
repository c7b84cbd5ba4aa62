"""XSepConv's initialisation (ops/xsep_init.py): the fix for xsep networks that stayed at chance."""
import torch
import torch.nn.functional as F

from nas_sepconv.evaluation.data import load_dataset
from nas_sepconv.evaluation.trial import reset_parameters
from nas_sepconv.models.resnet import build_resnet
from nas_sepconv.ops import create_op
from nas_sepconv.ops.xsep_init import SHIFT, NonNegativeInitConv2d, ShiftedBatchNorm2d


def _xsep_layers(model):
    convs = [m for m in model.modules() if isinstance(m, NonNegativeInitConv2d)]
    bns = [m for m in model.modules() if isinstance(m, ShiftedBatchNorm2d)]
    return convs, bns


def test_every_depthwise_kernel_starts_non_negative_and_every_bn_before_a_relu_shifted():
    op = create_op("xsep_3x3", 8, 8, 1)
    convs, bns = _xsep_layers(op)
    assert len(convs) == 3 and len(bns) == 3  # 2x2, 1x3, 3x1, each + BN + ReLU
    assert all(c.groups == c.in_channels and (c.weight >= 0).all() and (c.weight > 0).any() for c in convs)
    assert all(torch.equal(b.bias, torch.full_like(b.bias, SHIFT)) for b in bns)


def test_init_survives_the_resnet_init_and_a_trial_reset():
    torch.manual_seed(0)
    model = build_resnet(8, conv="xsep", num_classes=10, in_channels=1)
    for _ in range(2):
        convs, bns = _xsep_layers(model)
        assert convs and all((c.weight >= 0).all() for c in convs)
        assert bns and all(torch.equal(b.bias, torch.full_like(b.bias, SHIFT)) for b in bns)
        reset_parameters(model, seed=1)


def test_trial_reset_re_applies_the_resnet_kaiming_init():
    torch.manual_seed(0)
    model = build_resnet(8, conv="conv", num_classes=10, in_channels=1)
    reset_parameters(model, seed=3)
    first = model.blocks[0].conv1[0].weight.clone()
    expected_std = (2.0 / (16 * 9)) ** 0.5  # Kaiming normal, fan-out 16 * 3 * 3
    assert abs(first.std().item() / expected_std - 1) < 0.15
    reset_parameters(model, seed=3)
    assert torch.equal(model.blocks[0].conv1[0].weight, first)


def _grad_norm(model, x, y):
    F.cross_entropy(model(x), y).backward()
    return torch.sqrt(sum((p.grad ** 2).sum() for p in model.parameters())).item()


def test_xsep_resnet_gradient_at_init_is_of_the_size_of_dsep_and_was_not_with_default_init():
    data = load_dataset("digits")
    x, y = data.train_images[:128], data.train_labels[:128]
    norms = {}
    for conv in ("xsep", "dsep"):
        torch.manual_seed(0)
        norms[conv] = _grad_norm(build_resnet(20, conv=conv, num_classes=10, in_channels=1), x, y)
    torch.manual_seed(0)
    default = build_resnet(20, conv="xsep", num_classes=10, in_channels=1)
    for m in default.modules():  # PyTorch's default init: the root cause
        if isinstance(m, (NonNegativeInitConv2d, ShiftedBatchNorm2d)):
            type(m).__mro__[1].reset_parameters(m)
    norms["default"] = _grad_norm(default, x, y)
    assert norms["xsep"] < 5 * norms["dsep"]
    assert norms["default"] > 100 * norms["dsep"]
