"""Every registered op and a small network of each op family survive torch.jit.script and torch.onnx.export.

Scripted and exported models must compute what the eager model computes: the custom autograd
Functions of ``ops.grouped`` (training speed-ups) give way to plain ops there (``grouped.exporting``).
ONNX needs the ``export`` extra (onnx, onnxruntime, onnxscript); without it those tests skip.
"""
import io

import pytest
import torch

from nas_sepconv.genotypes.cell import replace_ops
from nas_sepconv.genotypes.named import DARTS_V2
from nas_sepconv.models.network import build_model
from nas_sepconv.models.resnet import build_resnet
from nas_sepconv.ops import OPS, create_op

FAMILIES = {"darts": "sep_conv_3x3", "osep": "osep_3x3", "so-sep": "so_sep_3x3", "o-sep (DARTS-wrapped)":
            "o_sep_conv_3x3", "blk": "blk_3x3", "xsep": "xsep_3x3", "baseline": "dsep_conv_3x3",
            "grouped": "group_conv_3x3"}


def network(op):
    torch.manual_seed(0)
    genotype = replace_ops(DARTS_V2, {"sep_conv_3x3": op, "dil_conv_3x3": op})
    return build_model(genotype, channels=8, layers=3, stem="digits", in_channels=1).eval()


@pytest.mark.parametrize("name", sorted(OPS))
def test_every_op_scripts_and_computes_the_same(name):
    torch.manual_seed(0)
    op = create_op(name, 12, 12, 2 if name.startswith("osep") else 1).eval()
    x = torch.randn(2, 12, 8, 8)
    scripted = torch.jit.script(op)
    assert torch.allclose(scripted(x), op(x), atol=1e-5)


@pytest.mark.parametrize("family", FAMILIES)
def test_networks_script_and_save(family, tmp_path):
    model = network(FAMILIES[family])
    x = torch.randn(3, 1, 8, 8)
    scripted = torch.jit.script(model)
    torch.jit.save(scripted, tmp_path / "m.pt")
    loaded = torch.jit.load(tmp_path / "m.pt")
    assert torch.allclose(loaded(x), model(x), atol=1e-5)


def test_resnet_with_built_in_preprocessing_scripts():
    pre = {"mean": [0.3], "std": [0.4], "max_value": 16, "input_size": [8, 8], "channels": 1}
    model = build_resnet(8, conv="osep", multiplier=0.5, in_channels=1, normalize=pre).eval()
    x = torch.rand(2, 1, 8, 8) * 16
    assert torch.allclose(torch.jit.script(model)(x), model(x), atol=1e-5)


def _onnxruntime():
    try:
        import onnx  # noqa: F401
        import onnxruntime
    except Exception as err:  # missing, or broken by another package's protobuf pin
        pytest.skip(f"onnx/onnxruntime not usable ({type(err).__name__}); install the export extra")
    return onnxruntime


@pytest.mark.parametrize("family", FAMILIES)
def test_networks_export_to_onnx_and_run_in_onnxruntime(family):
    ort = _onnxruntime()
    model = network(FAMILIES[family])
    x = torch.randn(2, 1, 8, 8)
    buffer = io.BytesIO()
    torch.onnx.export(model, (x,), buffer, dynamo=False, input_names=["images"],
                      dynamic_axes={"images": {0: "batch"}})
    session = ort.InferenceSession(buffer.getvalue())
    batch = torch.randn(5, 1, 8, 8)
    (logits,) = session.run(None, {"images": batch.numpy()})
    assert torch.allclose(torch.from_numpy(logits), model(batch), atol=1e-4)
