"""Third-party genotypes.py files (FILE:NAME, parsed never executed) and the shipped published cells."""
import pytest

from nas_sepconv import load_genotype
from nas_sepconv.genotypes.named import AMOEBANET, GDAS_V1, NAMED_GENOTYPES, NASNET, P_DARTS, PC_DARTS, SNAS_MILD
from nas_sepconv.models.network import build_model, count

# A genotypes.py as the authors' repositories write them: the cells are copied from the P-DARTS,
# GDAS (NAS-Projects, with architecture weights; AutoDL-Projects, node pairs) and FairDARTS files.
THIRD_PARTY = '''
import os
from collections import namedtuple
os.system("touch {marker}")
Genotype = namedtuple('Genotype', 'normal normal_concat reduce reduce_concat')
PRIMITIVES = ['none', 'max_pool_3x3', 'avg_pool_3x3', 'skip_connect']

def from_str(text):
    return eval(text)

PDARTS = Genotype(normal=[('skip_connect', 0), ('dil_conv_3x3', 1), ('skip_connect', 0),('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('sep_conv_3x3', 3), ('sep_conv_3x3',0), ('dil_conv_5x5', 4)], normal_concat=range(2, 6), reduce=[('avg_pool_3x3', 0), ('sep_conv_5x5', 1), ('sep_conv_3x3', 0), ('dil_conv_5x5', 2), ('max_pool_3x3', 0), ('dil_conv_3x3', 1), ('dil_conv_3x3', 1), ('dil_conv_5x5', 3)], reduce_concat=range(2, 6))
GDAS_V1 = Genotype(
  normal=[('skip_connect', 0, 0.13017432391643524), ('skip_connect', 1, 0.12947972118854523), ('skip_connect', 0, 0.13062666356563568), ('sep_conv_5x5', 2, 0.12980839610099792), ('sep_conv_3x3', 3, 0.12923765182495117), ('skip_connect', 0, 0.12901571393013), ('sep_conv_5x5', 4, 0.12938997149467468), ('sep_conv_3x3', 3, 0.1289220005273819)],
  normal_concat=range(2, 6),
  reduce=[('sep_conv_5x5', 0, 0.12862831354141235), ('sep_conv_3x3', 1, 0.12783904373645782), ('sep_conv_5x5', 2, 0.12725995481014252), ('sep_conv_5x5', 1, 0.12705285847187042), ('dil_conv_5x5', 2, 0.12797553837299347), ('sep_conv_3x3', 1, 0.12737272679805756), ('sep_conv_5x5', 0, 0.12833961844444275), ('sep_conv_5x5', 1, 0.12758426368236542)],
  reduce_concat=range(2, 6)
)
GDAS_PAIRS = Genotype(
  normal=[
    (('skip_connect', 0), ('skip_connect', 1)),
    (('skip_connect', 0), ('sep_conv_5x5', 2)),
    (('sep_conv_3x3', 3), ('skip_connect', 0)),
    (('sep_conv_5x5', 4), ('sep_conv_3x3', 3))],
  normal_concat=[2, 3, 4, 5],
  reduce=[
    (('sep_conv_5x5', 0), ('sep_conv_3x3', 1)),
    (('sep_conv_5x5', 2), ('sep_conv_5x5', 1)),
    (('dil_conv_5x5', 2), ('sep_conv_3x3', 1)),
    (('sep_conv_5x5', 0), ('sep_conv_5x5', 1))],
  reduce_concat=[2, 3, 4, 5],
  connectN=None, connects=None
)
FairDARTS_a = Genotype(normal=[('sep_conv_3x3', 2, 0), ('sep_conv_5x5', 2, 1), ('max_pool_3x3', 4, 0), ('sep_conv_3x3', 5, 0)], normal_concat=range(2, 6),
         reduce=[('max_pool_3x3', 2, 0), ('avg_pool_3x3', 2, 1), ('avg_pool_3x3', 3, 0), ('dil_conv_5x5', 3, 1), ('avg_pool_3x3', 4, 0), ('sep_conv_5x5', 4, 1),
                 ('skip_connect', 5, 0), ('skip_connect', 5, 1)], reduce_concat=range(2, 6))
FAIR_TWO = Genotype(normal=[('sep_conv_3x3', 2, 0), ('sep_conv_5x5', 2, 1), ('max_pool_3x3', 3, 0), ('sep_conv_3x3', 3, 2)], normal_concat=[2, 3],
         reduce=[('max_pool_3x3', 2, 0), ('avg_pool_3x3', 2, 1), ('avg_pool_3x3', 3, 0), ('dil_conv_5x5', 3, 1)], reduce_concat=[2, 3])
DARTS = PDARTS
'''


@pytest.fixture
def module(tmp_path):
    marker = tmp_path / "EXECUTED"
    path = tmp_path / "genotypes.py"
    path.write_text(THIRD_PARTY.format(marker=marker))
    yield path
    assert not marker.exists(), "the genotypes.py was executed"


def test_file_name_selector_parses_without_executing(module):
    assert load_genotype(f"{module}:PDARTS") == P_DARTS
    assert load_genotype(f"{module}:DARTS") == P_DARTS  # ALIAS = NAME
    assert load_genotype(module, id="PDARTS") == P_DARTS
    assert load_genotype(f"{module}:GDAS_V1") == GDAS_V1  # (op, input, weight): the weight is dropped
    assert load_genotype(f"{module}:GDAS_PAIRS") == GDAS_V1  # one ((op, in), (op, in)) per node


def test_fair_darts_cells(module):
    two = load_genotype(f"{module}:FAIR_TWO")  # (op, node, input), two inputs per node: representable
    assert [(e.op, e.input) for e in two.normal] == [("sep_conv_3x3", 0), ("sep_conv_5x5", 1),
                                                      ("max_pool_3x3", 0), ("sep_conv_3x3", 2)]
    with pytest.raises(ValueError, match=r"genotypes\.py: `normal` is a FairDARTS-style cell, \(op, node, input\) "
                                         r"edges whose nodes \[2, 4, 5\] have 2, 1, 1 inputs; only cells"):
        load_genotype(f"{module}:FairDARTS_a")


def test_selector_errors(module):
    with pytest.raises(ValueError, match=r"the file holds 6 genotypes; pick one as FILE:NAME with NAME one of "
                                         r"PDARTS, GDAS_V1, GDAS_PAIRS, FairDARTS_a, FAIR_TWO, DARTS\."):
        load_genotype(module)
    with pytest.raises(ValueError, match=r"`NAME` must be one of PDARTS, .*, got 'from_str'\."):
        load_genotype(f"{module}:from_str")
    with pytest.raises(ValueError, match=r"`id` must be None when `path_or_name` selects one as FILE:NAME"):
        load_genotype(f"{module}:PDARTS", id="DARTS")


# Published sizes (CIFAR-10, C=36, 20 cells, auxiliary head excluded) as the authors' genotype files quote
# them: P-DARTS 3.43M, PC-DARTS 3.63M, GDAS 3.36M (exact count 3,368,782: within 0.01M), SNAS 2.66M.
PUBLISHED = [("P-DARTS", P_DARTS, 3_433_798, 3.43e6), ("PC-DARTS", PC_DARTS, 3_634_678, 3.63e6),
             ("GDAS_V1", GDAS_V1, 3_368_782, 3.36e6), ("SNAS", SNAS_MILD, 2_661_382, 2.66e6)]


@pytest.mark.parametrize("name, genotype, exact, paper", PUBLISHED)
def test_shipped_by_name_with_published_counts(name, genotype, exact, paper):
    assert load_genotype(name) is genotype
    params = count(genotype, channels=36, layers=20).params
    assert params == exact and abs(params - paper) < 0.01e6
    model = build_model(genotype, channels=36, layers=20)
    assert sum(p.numel() for p in model.parameters()) == exact  # the counter against the built model


@pytest.mark.parametrize("genotype", [NASNET, AMOEBANET])
def test_nasnet_and_amoebanet_cells_build_and_count(genotype):
    import torch

    model = build_model(genotype, channels=8, layers=5)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert count(genotype, channels=8, layers=5).params == sum(p.numel() for p in model.parameters())
    assert count(genotype, channels=36, layers=20).params == {id(NASNET): 3_830_950,
                                                             id(AMOEBANET): 3_145_078}[id(genotype)]


def test_every_named_genotype_loads_by_name():
    for name, genotype in NAMED_GENOTYPES.items():
        assert load_genotype(name.lower().replace("_", "-")) is genotype
