"""Genotype files: single genotypes, a run's collection keyed by id, DARTS text, names."""
from __future__ import annotations

import json
import os

import pytest

from nas_sepconv import Genotype, load_genotype
from nas_sepconv.genotypes.files import load_genotypes, save_genotypes
from nas_sepconv.genotypes.named import DARTS_V1, DARTS_V2, PC_DARTS


def test_save_and_load_single(tmp_path):
    g = Genotype(DARTS_V2.normal, DARTS_V2.normal_concat, DARTS_V1.reduce, [5, 2], channels=16, layers=8)
    path = tmp_path / "g.json"
    g.save(path)
    assert load_genotype(path) == g and load_genotype(str(path)) == g
    assert json.loads(path.read_text())["reduce_concat"] == [5, 2]
    assert os.listdir(tmp_path) == ["g.json"]  # no temporary file left behind


def test_save_replaces_atomically(tmp_path):
    path = tmp_path / "g.json"
    DARTS_V1.save(path)
    DARTS_V2.save(path)
    assert load_genotype(path) == DARTS_V2 and os.listdir(tmp_path) == ["g.json"]


def test_collection_keyed_by_id(tmp_path):
    path = tmp_path / "genotypes.json"
    save_genotypes({0: DARTS_V1, "17": DARTS_V2, 3: PC_DARTS}, path)
    assert sorted(json.loads(path.read_text())) == ["0", "17", "3"]
    assert load_genotype(path, id=17) == DARTS_V2 and load_genotype(path, id="0") == DARTS_V1
    assert load_genotypes(path) == {"0": DARTS_V1, "17": DARTS_V2, "3": PC_DARTS}
    with pytest.raises(ValueError, match=r"`id` must be one of 0, 17, 3 in .*, got None\."):
        load_genotype(path)
    with pytest.raises(ValueError, match=r"`id` must be one of .*, got 5\."):
        load_genotype(path, id=5)


def test_collection_of_one_needs_no_id(tmp_path):
    path = tmp_path / "genotypes.json"
    save_genotypes({"a": PC_DARTS}, path)
    assert load_genotype(path) == PC_DARTS


def test_darts_text_file(tmp_path):
    path = tmp_path / "genotype.txt"
    path.write_text("PCDARTS = " + PC_DARTS.to_darts() + "\n")
    assert load_genotype(path) == PC_DARTS


def test_named():
    assert load_genotype("DARTS_V2") is DARTS_V2 and load_genotype("pc-darts") is PC_DARTS
    with pytest.raises(ValueError, match=r"`path_or_name` must be an existing genotype file or one of DARTS_V1, "
                                         r"DARTS_V2, PC_DARTS, PC_DARTS_IMAGENET, P_DARTS, GDAS_V1, SNAS_MILD, NASNET, AMOEBANET, got 'no_such.json'\."):
        load_genotype("no_such.json")


def test_bad_files(tmp_path):
    single, broken, bad_entry = tmp_path / "s.json", tmp_path / "b.json", tmp_path / "e.json"
    DARTS_V2.save(single)
    broken.write_text('{"normal": [')
    bad_entry.write_text(json.dumps({"1": DARTS_V2.to_dict(), "2": {**DARTS_V2.to_dict(), "normal_concat": [7]}}))
    with pytest.raises(ValueError, match=r"`id` must be None for a file holding a single genotype, got 3\."):
        load_genotype(single, id=3)
    with pytest.raises(ValueError, match=r"genotype file .*b\.json. is not valid JSON \(Expecting value: line 1"):
        load_genotype(broken)
    with pytest.raises(ValueError, match=r"e\.json: genotype '2': `normal_concat` must list distinct nodes "
                                         r"in 2\.\.5, got \[7\]\."):
        load_genotype(bad_entry, id=1)
    with pytest.raises(ValueError, match=r"`path` must be a collection of genotypes keyed by id"):
        load_genotypes(single)
    with pytest.raises(ValueError, match=r"`path_or_name` must be an existing file when `id` is given"):
        load_genotype("DARTS_V2", id=1)
    with pytest.raises(ValueError, match=r"`genotypes\[1\]` must be a Genotype, ResNetGenotype or MobileNetGenotype, "
                                         r"got 'x'\."):
        save_genotypes({1: "x"}, tmp_path / "c.json")
    (tmp_path / "empty.json").write_text("{}")
    with pytest.raises(ValueError, match=r"must hold at least one genotype"):
        load_genotype(tmp_path / "empty.json")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"`file` must hold a JSON object, got '\[1, 2\]'\."):
        load_genotype(tmp_path / "list.json")
