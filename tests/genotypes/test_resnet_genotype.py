"""ResNetGenotype: JSON round trips, exact counts of the built network, files, bad input."""
import json

import pytest
import torch

from nas_sepconv import ResNetGenotype, build_resnet, load_genotype
from nas_sepconv.genotypes.architecture import (
    architecture_from_dict,
    architecture_text,
    build_architecture,
    count_architecture,
)
from nas_sepconv.genotypes.files import save_genotypes
from nas_sepconv.genotypes.named import DARTS_V2
from nas_sepconv.models.network import count

GENOTYPES = [ResNetGenotype(8, "osep", 0.5), ResNetGenotype(20, ("conv", "dsep", "xsep"), 1.0),
             ResNetGenotype(8, "blk", 0.25, {"s": 2, "t": 2}), ResNetGenotype(8, "osep", 0.5, shortcut="B")]


@pytest.mark.parametrize("genotype", GENOTYPES, ids=str)
def test_json_round_trip_and_dispatch(genotype):
    assert ResNetGenotype.from_json(genotype.to_json()) == genotype
    assert architecture_from_dict(json.loads(genotype.to_json(indent=None))) == genotype
    assert hash(genotype) == hash(ResNetGenotype.from_dict(genotype.to_dict()))


@pytest.mark.parametrize("genotype", GENOTYPES, ids=str)
def test_build_and_count_agree_with_the_built_network(genotype):
    model = genotype.build(num_classes=4, in_channels=1)
    assert sum(p.numel() for p in model.parameters()) == genotype.count(num_classes=4, in_channels=1).params
    kwargs = genotype.resnet_kwargs()
    reference = build_resnet(kwargs.pop("depth"), num_classes=4, in_channels=1, **kwargs)
    assert {k: v.shape for k, v in model.state_dict().items()} == {
        k: v.shape for k, v in reference.state_dict().items()}
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 4)


def test_text_and_cell_dispatch():
    assert architecture_text(GENOTYPES[0]) == "ResNet-8 osep x0.5"
    assert architecture_text(GENOTYPES[1]) == "ResNet-20 conv/dsep/xsep x1"
    assert architecture_text(GENOTYPES[2]) == "ResNet-8 blk x0.25 s=2 t=2"
    assert architecture_text(GENOTYPES[3]) == "ResNet-8 osep x0.5 shortcut=B"
    assert architecture_from_dict(DARTS_V2.to_dict()) == DARTS_V2
    assert architecture_text(DARTS_V2).startswith("normal: sep_conv_3x3<-0 sep_conv_3x3<-1")


def test_build_architecture_refuses_cell_settings_for_a_resnet():
    model = build_architecture(GENOTYPES[0], num_classes=10, in_channels=1, stem="digits", drop_path=0.0)
    assert sum(p.numel() for p in model.parameters()) == GENOTYPES[0].count(in_channels=1).params
    with pytest.raises(ValueError, match=r"\['channels'\] do not apply to a ResNet genotype"):
        build_architecture(GENOTYPES[0], num_classes=10, in_channels=1, stem="digits", channels=16)
    assert count_architecture(GENOTYPES[0], num_classes=10, in_channels=1, stem="digits",
                              input_size=8) == GENOTYPES[0].count(in_channels=1, input_size=8)
    with pytest.raises(ValueError, match=r"\['layers'\] do not apply to a ResNet genotype"):
        count_architecture(GENOTYPES[0], num_classes=10, in_channels=1, stem="digits", input_size=8, layers=5)
    assert count_architecture(DARTS_V2, num_classes=10, in_channels=1, stem="digits", input_size=8,
                              channels=8, layers=5) == count(DARTS_V2, channels=8, layers=5, stem="digits",
                                                             in_channels=1)


def test_files_hold_resnet_genotypes(tmp_path):
    save_genotypes({"3": GENOTYPES[0], "7": GENOTYPES[1]}, tmp_path / "genotypes.json")
    assert load_genotype(tmp_path / "genotypes.json", 7) == GENOTYPES[1]
    GENOTYPES[2].save(tmp_path / "one.json")
    assert load_genotype(tmp_path / "one.json") == GENOTYPES[2]


@pytest.mark.parametrize("data, needle", [
    ({"depth": 8, "conv": "conv", "multiplier": 1}, '"kind": "resnet"'),
    ({"kind": "resnet", "depth": 8, "conv": "conv"}, "missing ['multiplier']"),
    ({"kind": "resnet", "depth": 8, "conv": "conv", "multiplier": 1, "width": 3}, "unknown ['width']"),
    ({"kind": "resnet", "depth": 9, "conv": "conv", "multiplier": 1}, "`depth` must be 6n+2"),
    ({"kind": "resnet", "depth": 8, "conv": "warp", "multiplier": 1}, "`conv` must be one of"),
    ({"kind": "resnet", "depth": 8, "conv": 3, "multiplier": 1}, "`conv` must be an op name or a list"),
    ({"kind": "resnet", "depth": 8, "conv": ["conv", "dw"], "multiplier": 1}, "one per stage"),
    ({"kind": "resnet", "depth": 8, "conv": "conv", "multiplier": -1}, "`multiplier` must be"),
    ({"kind": "resnet", "depth": 8, "conv": "blk", "multiplier": 1, "op_params": {"u": 1}}, "`u` is not a parameter"),
    ({"kind": "resnet", "depth": 8, "conv": "blk", "multiplier": 1, "op_params": [1]}, "`op_params` must be"),
    ({"kind": "resnet", "depth": 8, "conv": "conv", "multiplier": 1, "shortcut": "b"}, "`shortcut` must be"),
])
def test_bad_input_names_the_field(data, needle):
    with pytest.raises(ValueError) as info:
        ResNetGenotype.from_dict(data)
    assert needle in str(info.value)


def test_shortcut_is_written_only_for_b_and_old_files_read_as_a():
    old = {"kind": "resnet", "depth": 8, "conv": "osep", "multiplier": 0.5}
    assert ResNetGenotype.from_dict(old) == GENOTYPES[0] and GENOTYPES[0].shortcut == "A"
    assert "shortcut" not in GENOTYPES[0].to_dict()
    assert GENOTYPES[3].to_dict() == {**old, "shortcut": "B"}
    assert GENOTYPES[3] != GENOTYPES[0]
    # option B adds two 1x1 projections + BN at the stage transitions (widths 8/16/32 at x0.5)
    gained = GENOTYPES[3].count(input_size=8).params - GENOTYPES[0].count(input_size=8).params
    assert gained == 8 * 16 + 16 * 32 + 2 * (16 + 32)
