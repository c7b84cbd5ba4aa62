"""Candidate sets of op internals from --internals or --config, validated and recorded."""
import json

import pytest

from nas_sepconv.evaluation.data import load_dataset
from nas_sepconv.runs.job import SearchConfig, build_space


def test_flag_and_config_set_the_candidates_and_config_json_records_them(cli, tmp_path):
    cfg = tmp_path / "c.yml"
    cfg.write_text("internals:\n  blk: {s: [1, 2]}\n")
    code, out, err = cli("search", "--config", cfg, "--internals", "osep.gamma=1,4", "osep.N=2,auto",
                         "--ops", "osep_3x3", "blk_3x3", "--trials", "1", "--epochs", "1", "--width", "4",
                         "--cells", "3", "--no-references", "--quiet", "--out", tmp_path / "runs")
    assert code == 0, err
    run = next((tmp_path / "runs").iterdir())
    config = json.loads((run / "config.json").read_text())["config"]
    assert config["internals"] == {"blk": {"s": [1, 2]}, "osep": {"gamma": [1, 4], "N": [2, "auto"]}}


def test_the_space_offers_exactly_those_candidates():
    config = SearchConfig(ops=("osep_3x3", "blk_3x3"), width=4, cells=3,
                          internals={"osep": {"gamma": [1, 4]}, "blk_3x3": {"t": [1, 2]}})
    space = build_space(config, load_dataset("digits").spec)
    choices = space.simplify()
    assert choices["normal/op_2_0/osep_3x3/gamma"].values == [1, 4]
    assert choices["normal/op_2_0/osep_3x3/N"].values == [2, 3, "auto"]  # the registry's default stays
    assert choices["normal/op_2_0/blk_3x3/t"].values == [1, 2]


@pytest.mark.parametrize("internals, message", [
    ({"nope": {"gamma": [1]}}, "`internals` keys must be op families"),
    ({"osep": {"colour": [1]}}, "`internals.osep` parameters must be among"),
    ({"osep": {"gamma": []}}, "`internals.osep.gamma` must be a non-empty list"),
    ({"osep": {"gamma": [1, 1]}}, "distinct"),
    ({"osep": 5}, "`internals.osep` must map parameters"),
    (5, "`internals` must map op families"),
])
def test_bad_internals_are_one_line_errors(internals, message):
    with pytest.raises(ValueError, match=message):
        SearchConfig(internals=internals)


def test_a_value_the_width_does_not_admit_is_refused_when_the_space_is_built():
    config = SearchConfig(ops=("blk_3x3",), width=4, cells=3, internals={"blk": {"t": [3]}})
    with pytest.raises(ValueError, match="`width` 4 does not admit blk_3x3 t=3"):
        build_space(config, load_dataset("digits").spec)


def test_bad_flag_syntax_exits_2(cli):
    code, out, err = cli("search", "--internals", "gamma=1,4")
    assert code == 2 and "KEY.PARAM=V1,V2" in err
