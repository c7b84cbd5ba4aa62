"""Genotypes: validation, JSON / DARTS-text / NNI-sample round trips, files, replace_ops."""
from __future__ import annotations

import json
import random
import re

import numpy as np
import pytest

from nas_sepconv import Genotype, load_genotype
from nas_sepconv.genotypes.cell import CELLS, Edge, replace_ops
from nas_sepconv.genotypes.named import NAMED_GENOTYPES
from nas_sepconv.ops.registry import OPS, OpSpec

DARTS_OPS = ["none", "avg_pool_3x3", "max_pool_3x3", "skip_connect",
             "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5"]
ALL_NODES = [2, 3, 4, 5]


@pytest.fixture
def test_op(monkeypatch):
    """A registry entry with a searchable space, present only during one test."""
    space = {"N": (1, 2, 3), "shape": ((1, 2), (2, 1)), "mode": ("a", "b")}
    monkeypatch.setitem(OPS, "test_op", OpSpec("test_op", object, {}, space))
    return "test_op"


def random_genotype(rng: random.Random, extra_op: str | None = None) -> Genotype:
    fields = {}
    for cell in CELLS:
        n = rng.randint(1, 6)
        edges = []
        for i in range(2 * n):
            source = rng.randrange(i // 2 + 2)
            if extra_op and rng.random() < 0.5:
                edges.append(Edge(extra_op, source, {"N": rng.choice((1, 2, 3)), "shape": (2, 1)}))
            else:
                edges.append((rng.choice(DARTS_OPS), source))
        fields[cell] = edges
        fields[f"{cell}_concat"] = rng.sample(range(2, n + 2), rng.randint(1, n))
    return Genotype(**fields, channels=rng.choice([None, 8, 36]), layers=rng.choice([None, 5, 20]))


def test_darts_v2_is_the_published_cell():
    # docs/verified-facts.md (verified against the DARTS reference code).
    g = load_genotype("DARTS_V2")
    assert [(e.op, e.input) for e in g.normal] == [
        ("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)]
    assert [(e.op, e.input) for e in g.reduce] == [
        ("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
        ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)]
    assert g.normal_concat == g.reduce_concat == (2, 3, 4, 5)
    assert g.channels is None and g.layers is None and g.num_nodes("normal") == 4


@pytest.mark.filterwarnings("ignore")
def test_darts_v2_sample_equals_nni_own_darts_v2_sample(monkeypatch):
    from nni.nas.hub.pytorch import DARTS
    captured = {}
    monkeypatch.setattr(DARTS, "frozen_factory", classmethod(
        lambda cls, arch: captured.update(arch) or (lambda **kwargs: None)))
    DARTS.load_searched_model("darts-v2")
    assert len(captured) == 32
    assert load_genotype("DARTS_V2").to_sample() == captured
    assert Genotype.from_sample(captured) == load_genotype("DARTS_V2")


@pytest.mark.filterwarnings("ignore")
def test_random_samples_of_nni_darts_space_round_trip():
    from nni.nas.hub.pytorch import DARTS
    space = DARTS(width=(16, 24), num_cells=(4, 8)).simplify()
    for seed in range(5):
        memo: dict = {}
        rng = np.random.RandomState(seed)
        for mutable in space.values():
            mutable.random(memo, rng)
        g = Genotype.from_sample(memo)
        assert (g.channels, g.layers) == (memo["width"], memo["depth"])
        assert g.to_sample() == memo


# The DARTS and PC-DARTS reference code's text, exactly as written in their genotypes.py.
DARTS_V1_TEXT = ("DARTS_V1 = Genotype(normal=[('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 0), "
                 "('sep_conv_3x3', 1), ('skip_connect', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
                 "('skip_connect', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
                 "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 0), ('max_pool_3x3', 0), "
                 "('skip_connect', 2), ('skip_connect', 2), ('avg_pool_3x3', 0)], reduce_concat=[2, 3, 4, 5])")
PC_DARTS_TEXT = ("PC_DARTS_cifar = Genotype(normal=[('sep_conv_3x3', 1), ('skip_connect', 0), ('sep_conv_3x3', 0), "
                 "('dil_conv_3x3', 1), ('sep_conv_5x5', 0), ('sep_conv_3x3', 1), ('avg_pool_3x3', 0), "
                 "('dil_conv_3x3', 1)], normal_concat=range(2, 6), reduce=[('sep_conv_5x5', 1), "
                 "('max_pool_3x3', 0), ('sep_conv_5x5', 1), ('sep_conv_5x5', 2), ('sep_conv_3x3', 0), "
                 "('sep_conv_3x3', 3), ('sep_conv_3x3', 1), ('sep_conv_3x3', 2)], reduce_concat=range(2, 6))")
MULTILINE_TEXT = """
Genotype(
  normal = [
    ('sep_conv_5x5', 1),
    ('skip_connect', 0),
  ],
  normal_concat = [2],
  reduce = [
    ('conv_7x1_1x7', 0),
    ('max_pool_3x3', 1),
    ],
  reduce_concat = range(2, 3)
)
"""


def test_parse_reference_texts():
    assert Genotype.from_darts(DARTS_V1_TEXT) == NAMED_GENOTYPES["DARTS_V1"]
    assert Genotype.from_darts(PC_DARTS_TEXT) == NAMED_GENOTYPES["PC_DARTS"]
    g = Genotype.from_darts(MULTILINE_TEXT, channels=16, layers=8)
    assert [(e.op, e.input) for e in g.reduce] == [("conv_7x1_1x7", 0), ("max_pool_3x3", 1)]
    assert (g.normal_concat, g.reduce_concat, g.channels, g.layers) == ((2,), (2,), 16, 8)
    positional = "Genotype([('skip_connect', 0), ('skip_connect', 1)], [2], [('none', 1), ('none', 0)], (2,))"
    assert Genotype.from_darts(positional).reduce[0] == Edge("none", 1)


def test_darts_text_export_is_the_reference_layout():
    text = NAMED_GENOTYPES["DARTS_V1"].to_darts()
    assert text == DARTS_V1_TEXT.removeprefix("DARTS_V1 = ")


@pytest.mark.parametrize("name", sorted(NAMED_GENOTYPES))
def test_named_round_trips(name):
    g = NAMED_GENOTYPES[name]
    assert Genotype.from_json(g.to_json()) == g
    assert Genotype.from_dict(g.to_dict()) == g
    assert Genotype.from_darts(g.to_darts()) == g
    assert Genotype.from_sample(g.to_sample()) == g
    assert load_genotype(name.lower().replace("_", "-")) is g


def test_random_round_trips(test_op):
    rng = random.Random(0)
    for _ in range(200):
        g = random_genotype(rng, extra_op=test_op if rng.random() < 0.5 else None)
        assert Genotype.from_json(g.to_json(indent=None)) == g
        assert Genotype.from_sample(g.to_sample()) == g
        if not any(e.params for cell in CELLS for e in getattr(g, cell)):
            again = Genotype.from_darts(g.to_darts(), channels=g.channels, layers=g.layers)
            assert again == g and hash(again) == hash(g)


def test_params_are_stored_sorted_hashable_and_as_the_space_values(test_op):
    a = Genotype([(test_op, 0, {"shape": [1, 2], "N": 2.0}), ("none", 1)], [2],
                 [("none", 0), ("none", 1)], range(2, 3))
    edge = a.normal[0]
    assert edge.params == (("N", 2), ("shape", (1, 2))) and type(edge.param_dict["N"]) is int
    b = Genotype((Edge(test_op, 0, (("N", 2), ("shape", (1, 2)))), Edge("none", 1)), (2,),
                 [Edge("none", 0), Edge("none", 1)], [2])
    assert a == b and len({a, b}) == 1
    assert json.loads(a.to_json())["normal"][0] == {"op": test_op, "input": 0, "params": {"N": 2, "shape": [1, 2]}}
    params = {k: v for k, v in a.to_sample().items() if k.count("/") == 3}
    assert params == {"normal/op_2_0/test_op/N": 2, "normal/op_2_0/test_op/shape": (1, 2)}


def test_numpy_integers_are_accepted_as_python_ints():
    g = Genotype([("none", np.int64(1)), ("none", 0)], np.arange(2, 3), [("none", 0), ("none", 1)], [2],
                 channels=np.int32(8))
    assert g == Genotype([("none", 1), ("none", 0)], [2], [("none", 0), ("none", 1)], [2], channels=8)
    assert type(g.normal[0].input) is type(g.normal_concat[0]) is type(g.channels) is int


def test_from_sample_keeps_only_the_chosen_ops_params_and_reads_concat(test_op):
    sample = load_genotype("DARTS_V2").to_sample()
    sample.update({"normal/op_2_0/N": 3, "normal/op_2_0/test_op/N": 1, "normal/op_2_1": test_op, "lr": 0.1,
                   "normal/op_2_1/N": 2, "normal/op_2_1/test_op/N": 3, "normal/op_2_1/group_conv_3x3/N": 1,
                   "normal/op_2_1/mode": "b", "normal/op_2_1/group_conv_3x3/groups": 4})
    g = Genotype.from_sample(sample)
    assert g.normal[0].params == () and g.normal[1] == Edge(test_op, 1, {"N": 3, "mode": "b"})
    sample["reduce/concat"] = [5, 2]
    assert Genotype.from_sample(sample).reduce_concat == (5, 2)


def test_from_sample_loose_end_concatenates_unused_nodes():
    sample = load_genotype("DARTS_V2").to_sample()
    # DARTS_V2: normal node 5 reads node 2; reduce nodes 3, 4, 5 read node 2.
    g = Genotype.from_sample(sample, merge_op="loose_end")
    assert g.normal_concat == (3, 4, 5) and g.reduce_concat == (3, 4, 5)


def test_replace_ops(test_op):
    v2 = load_genotype("DARTS_V2")
    g = replace_ops(v2, {"sep_conv_3x3": "sep_conv_5x5", "dil_conv_3x3": (test_op, {"N": 3})})
    assert [e.op for e in g.normal].count("sep_conv_5x5") == 5
    assert g.normal[7] == Edge(test_op, 2, {"N": 3})
    assert [e.input for e in g.normal] == [e.input for e in v2.normal] and g.reduce == v2.reduce
    back = replace_ops(g, {test_op: "dil_conv_3x3", "sep_conv_5x5": "sep_conv_3x3"})
    assert back == v2  # the test_op parameters are dropped with the op
    only_reduce = replace_ops(v2, {"max_pool_3x3": "avg_pool_3x3"}, cells=["reduce"])
    assert only_reduce.normal == v2.normal and "max_pool_3x3" not in [e.op for e in only_reduce.reduce]


def _v2_fields(**changes):
    fields = {"normal": list(NAMED_GENOTYPES["DARTS_V2"].normal), "normal_concat": ALL_NODES,
              "reduce": list(NAMED_GENOTYPES["DARTS_V2"].reduce), "reduce_concat": ALL_NODES}
    return {**fields, **changes}


def _edit(cell, index, edge):
    edges = list(NAMED_GENOTYPES["DARTS_V2"].normal if cell == "normal" else NAMED_GENOTYPES["DARTS_V2"].reduce)
    edges[index] = edge
    return Genotype(**_v2_fields(**{cell: edges}))


def _json_with(**changes):
    return json.dumps({**NAMED_GENOTYPES["DARTS_V2"].to_dict(), **changes})


def _sample_with(**changes):
    return {**NAMED_GENOTYPES["DARTS_V2"].to_sample(), **changes}


V2_TEXT = NAMED_GENOTYPES["DARTS_V2"].to_darts()

BAD_INPUTS = {
    "op not a string": (lambda: _edit("normal", 3, (["none"], 0)), "`normal[3].op` must be a registered op"),
    "unknown op": (lambda: _edit("normal", 3, ("sep_conv_9x9", 0)), "`normal[3].op` must be a registered op"),
    "input too large": (lambda: _edit("normal", 3, ("none", 4)), "`normal[3].input` must be in 0..2, got 4."),
    "input negative": (lambda: _edit("reduce", 0, ("none", -1)), "`reduce[0].input` must be in 0..1, got -1."),
    "input bool": (lambda: _edit("reduce", 7, ("none", True)), "`reduce[7].input` must be in 0..4, got True."),
    "input str": (lambda: _edit("normal", 7, ("none", "1")), "`normal[7].input` must be in 0..4, got '1'."),
    "param not in space": (lambda: _edit("normal", 0, ("sep_conv_3x3", 0, {"N": 3})),
                           "`normal[0].params` must only name parameters in the space of op 'sep_conv_3x3' "
                           "(none), got 'N'."),
    "param value": (lambda: _edit("normal", 0, ("test_op", 0, {"N": None})),
                    "`normal[0].params.N` must be a number, a string or a list of them, got None."),
    "params not mapping": (lambda: Edge("none", 0, 5), "`params` must be a mapping"),
    "params key twice": (lambda: Edge("none", 0, [("N", 1), ("N", 2)]), "`params` must have distinct string keys"),
    "edge not a pair": (lambda: _edit("normal", 1, ("none",)), "`normal[1]` must be an Edge or an (op, input"),
    "odd edge count": (lambda: Genotype(**_v2_fields(normal=NAMED_GENOTYPES["DARTS_V2"].normal[:7])),
                       "`normal` must list two edges per node (an even, non-zero count)"),
    "no edges": (lambda: Genotype(**_v2_fields(reduce=[])), "`reduce` must list two edges per node"),
    "concat out of range": (lambda: Genotype(**_v2_fields(reduce_concat=[2, 6])),
                            "`reduce_concat` must list distinct nodes in 2..5, got [2, 6]."),
    "concat cell input": (lambda: Genotype(**_v2_fields(normal_concat=[1, 2])),
                          "`normal_concat` must list distinct nodes in 2..5, got [1, 2]."),
    "concat repeated": (lambda: Genotype(**_v2_fields(normal_concat=[2, 2])), "`normal_concat` must list distinct"),
    "concat empty": (lambda: Genotype(**_v2_fields(normal_concat=[])), "`normal_concat` must list distinct"),
    "concat not iterable": (lambda: Genotype(**_v2_fields(normal_concat=5)), "got 5."),
    "channels": (lambda: Genotype(**_v2_fields(), channels=0), "`channels` must be an integer >= 1, got 0."),
    "layers": (lambda: Genotype(**_v2_fields(), layers=2.5), "`layers` must be an integer >= 1, got 2.5."),
    "json syntax": (lambda: Genotype.from_json('{"normal": [}'), "`text` must be valid JSON, got Expecting value"),
    "json not object": (lambda: Genotype.from_json("[1]"), "`genotype` must be a JSON object, got [1]."),
    "json unknown key": (lambda: Genotype.from_json(_json_with(width=3)), "got unknown ['width'] and missing []."),
    "json missing key": (lambda: Genotype.from_json('{"normal": []}'), "missing ['normal_concat', 'reduce', "),
    "json edge keys": (lambda: Genotype.from_json(_json_with(normal=[{"op": "none"}])),
                       "`normal[0]` must be an object with keys op, input and optional params"),
    "json params": (lambda: Genotype.from_json(_json_with(reduce=[{"op": "none", "input": 0, "params": 3}])),
                    "`reduce[0].params` must be an object, got 3."),
    "json cell": (lambda: Genotype.from_json(_json_with(normal="x")), "`normal` must be a list of edge objects"),
    "json concat": (lambda: Genotype.from_json(_json_with(normal_concat="2345")),
                    "`normal_concat` must be a list of node indices, got '2345'."),
    "text syntax": (lambda: Genotype.from_darts("Genotype(normal=[("), "`text` must be DARTS genotype text, got a"),
    "text code": (lambda: Genotype.from_darts("__import__('os').getcwd()"), "`text` must be a call Genotype(...)"),
    "text two statements": (lambda: Genotype.from_darts("x = 1\n" + V2_TEXT), "got 2 statements."),
    "text field": (lambda: Genotype.from_darts(V2_TEXT.replace("reduce_concat", "concat")),
                   "fields must be normal, normal_concat, reduce, reduce_concat, got 'concat'."),
    "text missing": (lambda: Genotype.from_darts("Genotype(normal=[])"), "missing: normal_concat, reduce"),
    "text pair": (lambda: Genotype.from_darts(V2_TEXT.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', x)")),
                  "`normal[7]` must be an (op, input) pair of a string and an int, got \"('dil_conv_3x3', x)\"."),
    "text concat call": (lambda: Genotype.from_darts(V2_TEXT.replace("reduce_concat=[2, 3, 4, 5]",
                                                                     "reduce_concat=list(range(2, 6))")),
                         "`reduce_concat` must be a list of ints or range(start, stop), got 'list(range(2, 6))'."),
    "text range step 0": (lambda: Genotype.from_darts(V2_TEXT.replace("reduce_concat=[2, 3, 4, 5]",
                                                                      "reduce_concat=range(2, 6, 0)")),
                          "`reduce_concat` must be a list of ints or range"),
    "text unknown op": (lambda: Genotype.from_darts(V2_TEXT.replace("dil_conv_3x3", "sep_conv_9x9")),
                        "`normal[7].op` must be a registered op"),
    "sample key": (lambda: Genotype.from_sample(_sample_with(**{"normal/op_2_2": "none"})),
                   "`sample` key 'normal/op_2_2' must follow normal/op_<node>_<j>[[/<op>]/<param>]"),
    "sample param key": (lambda: Genotype.from_sample(_sample_with(**{"normal/op_2_0/a/b/c": 1})),
                         "`sample` key 'normal/op_2_0/a/b/c' must follow"),
    "sample input param": (lambda: Genotype.from_sample(_sample_with(**{"normal/input_2_0/N": 1})),
                           "`sample` key 'normal/input_2_0/N' must follow"),
    "sample gap": (lambda: Genotype.from_sample(
        {k: v for k, v in _sample_with().items() if not k.startswith("reduce/op_3")}),
        "`sample` must have reduce/op_<node>_<j> for nodes 2.. and j in 0, 1 without gaps"),
    "sample input": (lambda: Genotype.from_sample(_sample_with(**{"normal/input_2_0": [0, 1]})),
                     "`sample['normal/input_2_0']` must be a one-element list holding a node index, got [0, 1]."),
    "sample input range": (lambda: Genotype.from_sample(_sample_with(**{"normal/input_2_0": [2]})),
                           "`normal[0].input` must be in 0..1, got 2."),
    "merge_op": (lambda: Genotype.from_sample(_sample_with(), merge_op="sum"), "`merge_op` must be one of"),
    "replace value": (lambda: replace_ops(NAMED_GENOTYPES["DARTS_V2"], {"none": 3}),
                      "`mapping['none']` must be an op name or an (op name, params) pair, got 3."),
    "replace to unknown": (lambda: replace_ops(NAMED_GENOTYPES["DARTS_V2"], {"sep_conv_3x3": "osep_9x9"}),
                           "`normal[0].op` must be a registered op"),
    "replace params": (lambda: replace_ops(NAMED_GENOTYPES["DARTS_V2"], {"sep_conv_3x3": ("test_op", {"X": 9})}),
                       "`normal[0].params` must only name parameters in the space of op 'test_op' (N, mode, shape), "
                       "got 'X'."),
    "replace cell": (lambda: replace_ops(NAMED_GENOTYPES["DARTS_V2"], {}, cells=["all"]), "`cells` must be one of"),
    "darts export params": (lambda: _edit("normal", 0, ("test_op", 0, {"N": 2})).to_darts(),
                            "`normal[0].params` cannot be written as DARTS text"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_inputs_name_the_field_and_the_value(case, test_op):
    make, message = BAD_INPUTS[case]
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


def test_a_value_outside_the_default_search_choices_is_a_valid_genotype():
    """The registry's `space` lists default search choices, not the valid values: gamma=2.0 is
    an osep the paper allows (any gamma > 0), and the op itself refuses what it cannot build."""
    from nas_sepconv import count, op_cost

    assert 2.0 not in OPS["osep_3x3"].space["gamma"]
    genotype = replace_ops(NAMED_GENOTYPES["DARTS_V2"], {"sep_conv_3x3": ("osep_3x3", {"gamma": 2.0})})
    assert Genotype.from_json(genotype.to_json()) == genotype
    edge_cost = op_cost("osep_3x3", 16, 16, 1, input_size=8, gamma=2.0)
    assert edge_cost != op_cost("osep_3x3", 16, 16, 1, input_size=8, gamma=1.0)
    assert count(genotype, channels=16, layers=5).params > 0
    bad = replace_ops(NAMED_GENOTYPES["DARTS_V2"], {"sep_conv_3x3": ("osep_3x3", {"gamma": -1.0})})
    with pytest.raises(ValueError, match="`gamma` must be"):
        count(bad, channels=16, layers=5)
