"""MobileNetGenotype: JSON round trip, build == count, dispatch in architecture.py, bad input."""
import json

import pytest
import torch

from nas_sepconv.genotypes.architecture import (
    architecture_from_dict,
    architecture_from_json,
    architecture_text,
    build_architecture,
    count_architecture,
    is_backbone,
)
from nas_sepconv.genotypes.files import load_genotype, save_genotypes
from nas_sepconv.genotypes.mobilenet import MobileNetGenotype
from nas_sepconv.models.mobilenet import count_mobilenet
from nas_sepconv.models.mobilenet_plan import BlockChoice, block_choices
from nas_sepconv.models.mobilenet_presets import xsepconv_v3_small_blocks
from nas_sepconv.ops import count_built


def xsep_small(width=0.5):
    return MobileNetGenotype("v3-small", width, xsepconv_v3_small_blocks(placement="B"))


def test_json_round_trip_and_kind():
    g = xsep_small()
    data = g.to_dict()
    assert data["kind"] == "mobilenet" and len(data["blocks"]) == 11
    assert data["blocks"][4] == {"op": "xsep", "kernel": 5, "params": {"placement": "B"}}
    assert MobileNetGenotype.from_json(g.to_json()) == g
    assert architecture_from_json(json.dumps(data)) == g
    v2 = MobileNetGenotype("v2", 1.0, block_choices("v2", ops="blk", expansions=4, op_params={"blk": {"s": 1, "t": 2}}))
    assert architecture_from_dict(v2.to_dict()) == v2 and v2.to_dict()["blocks"][0]["expansion"] == 4


def test_build_equals_count_for_each_stem():
    g = xsep_small()
    for stem, size, channels in (("digits", 8, 1), ("cifar", 32, 3)):
        model = g.build(num_classes=10, in_channels=channels, stem=stem)
        assert count_built(model, (size, size), channels) == g.count(num_classes=10, in_channels=channels, stem=stem)
    assert g.count(stem="digits", in_channels=1) == count_mobilenet("v3-small", width=0.5, blocks=g.blocks,
                                                                     stem="digits", num_classes=10, in_channels=1)


def test_dispatch_builds_and_counts_with_the_data_stem():
    g = xsep_small()
    assert is_backbone(g)
    model = build_architecture(g, num_classes=10, in_channels=1, stem="digits")
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 10)
    cost = count_architecture(g, num_classes=10, in_channels=1, stem="digits", input_size=8)
    assert cost == count_built(model, (8, 8), 1)
    assert architecture_text(g).startswith("MobileNet-v3-small x0.5 dw3 dw3 dw3 dw5 xsep5[placement=B]")
    with pytest.raises(ValueError, match="do not apply to a MobileNet genotype"):
        build_architecture(g, num_classes=10, in_channels=1, stem="digits", channels=16)


def test_files_hold_mobilenet_genotypes(tmp_path):
    path = tmp_path / "genotypes.json"
    save_genotypes({"3": xsep_small(), "4": MobileNetGenotype("v1", 0.25, block_choices("v1", ops="osep"))}, path)
    assert load_genotype(path, "3") == xsep_small()
    assert load_genotype(path, "4").blocks[0] == BlockChoice("osep", 3)


@pytest.mark.parametrize("data,message", [
    ({"kind": "mobilenet", "version": "v2", "width": 1.0}, "missing ['blocks']"),
    ({"kind": "mobilenet", "version": "v5", "width": 1.0, "blocks": []}, "`version` must be one of"),
    ({"kind": "mobilenet", "version": "v1", "width": 1.0, "blocks": [{"op": "dw", "kernel": 3}]}, "13 BlockChoice"),
    ({"kind": "mobilenet", "version": "v1", "width": 1.0, "blocks": [{"op": "dw"}] * 13}, "op, kernel"),
    ({"kind": "mobilenet", "version": "v1", "width": -1, "blocks": [{"op": "dw", "kernel": 3}] * 13}, "`width`"),
    ({"kind": "mobilenet", "version": "v1", "width": 1.0, "blocks": [{"op": "dw", "kernel": 4}] * 13}, "`kernel`"),
])
def test_bad_json_names_the_problem(data, message):
    with pytest.raises(ValueError) as err:
        architecture_from_dict(data)
    assert message in str(err.value)


def test_report_diagram_has_one_box_per_run_of_equal_blocks():
    from nas_sepconv.runs.diagrams import architecture_diagrams

    (diagram,) = architecture_diagrams(xsep_small())
    boxes = [n for n in diagram.nodes if n not in ("stem", "classifier")]
    assert [b.split(" x ")[0] for b in boxes] == ["3", "1", "4", "1", "2"]   # dw3 x3, dw5, xsep5 x4, dw5, xsep3 x2
    assert diagram.title == "MobileNet-v3-small x0.5" and len(diagram.edges) == 6
