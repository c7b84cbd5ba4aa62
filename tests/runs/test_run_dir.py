"""The run directory and its trial table (nas_sepconv.runs.run_dir, nas_sepconv.runs.record)."""
import csv
import io
import json
import os
from dataclasses import replace

import pytest

from nas_sepconv import load_genotype
from nas_sepconv.evaluation.record import TrialRecord
from nas_sepconv.frontier.objectives import Objective
from nas_sepconv.frontier.pareto import ReferencePoint
from nas_sepconv.genotypes.cell import Genotype, replace_ops
from nas_sepconv.genotypes.named import DARTS_V1, DARTS_V2, PC_DARTS
from nas_sepconv.ops import OPS
from nas_sepconv.runs.record import COLUMNS, OLD_COLUMNS, check_row, derived_columns, rows_from_csv, rows_to_csv
from nas_sepconv.runs.run_dir import ReferenceArch, RunDir, frontier

REF = ReferencePoint((Objective("accuracy", "max"), Objective("params", "min")), (0.0, 1e6))
BLK = replace_ops(DARTS_V2, {"sep_conv_3x3": ("blk_3x3", {"s": 2, "t": 1})})


def rows():
    """Hand-made trials: 0, 2, 3 and 6 (a duplicate of 3) are the frontier; 4 failed despite few params
    (and reported no trained epochs); 5 trained 1 of its 2 epochs (it continued a checkpoint)."""
    spec = [(100, 0.50, "ok"), (300, 0.40, "ok"), (200, 0.70, "ok"), (400, 0.90, "ok"),
            (50, None, "failed"), (500, 0.85, "ok"), (400, 0.90, "ok")]
    genotypes = [DARTS_V1, DARTS_V2, PC_DARTS, BLK]
    return [TrialRecord.ended(i, genotypes[i % 4], params, None if params is None else params * 10, acc, 2, 7,
                     1.25 * i, status, "non-finite loss" if status == "failed" else "",
                     None if status == "failed" else 1 if i == 5 else 2)
            for i, (params, acc, status) in enumerate(spec)]


def brute_front(trials):
    ok = [r for r in trials if r.ok]
    def dominates(a, b):
        return a.accuracy >= b.accuracy and a.params <= b.params and (a.accuracy, a.params) != (b.accuracy, b.params)
    return {r.id for r in ok if not any(dominates(o, r) for o in ok)}


@pytest.fixture
def run(tmp_path):
    return RunDir.create(tmp_path / "results", "evo", config={"strategy": "evolution", "seed": 7}, seed=7,
                         reference=REF)


def test_create_writes_config_with_versions_and_reference(run, tmp_path):
    meta = json.loads((run.path / "config.json").read_text())
    assert meta["config"] == {"strategy": "evolution", "seed": 7} and meta["seed"] == 7
    assert set(meta["versions"]) == {"python", "torch", "nni", "nas-sepconv"}
    assert meta["versions"]["nni"] == "3.0" and meta["versions"]["torch"].startswith("2.13")
    assert ReferencePoint.from_dict(meta["reference_point"]) == REF
    assert run.path.parent == tmp_path / "results" and run.name.endswith("-evo")
    assert RunDir.open(run.path).reference == REF and RunDir.open(run.path).seed == 7


def test_create_makes_a_new_directory_every_time(tmp_path):
    made = [RunDir.create(tmp_path, "same name!", config={}, seed=0, reference=REF).path for _ in range(3)]
    assert len(set(made)) == 3 and all(p.is_dir() and " " not in p.name for p in made)


def test_create_refuses_non_json_config_and_leaves_nothing(tmp_path):
    with pytest.raises(ValueError, match="plain JSON"):
        RunDir.create(tmp_path, "x", config={"f": object()}, seed=0, reference=REF)
    with pytest.raises(ValueError, match="objectives must be named"):
        RunDir.create(tmp_path, "x", config={}, seed=0,
                      reference=ReferencePoint((Objective("latency", "min"),), (1.0,)))
    assert list(tmp_path.iterdir()) == []


def test_trials_round_trip_and_frontier_files(run):
    trials = rows()
    front = run.write_trials(trials)
    assert run.read_trials() == trials  # floats, None and genotypes with op params survive exactly
    assert {r.id for r in front} == brute_front(trials) == {0, 2, 3, 6}
    assert [r.id for r in front] == [0, 2, 3, 6]  # by ascending #params, ties by id
    assert 4 not in {r.id for r in front}  # failed trials never enter the frontier
    assert rows_from_csv((run.path / "frontier.csv").read_text()) == front
    for row in front:
        assert load_genotype(run.path / "genotypes.json", row.id) == row.genotype
    header = (run.path / "trials.csv").read_text().splitlines()[0]
    assert header == ",".join(COLUMNS + derived_columns()) == (
        "id,genotype,params,flops,accuracy,epochs,seed,seconds,status,reason,trained_epochs,"
        "is_pareto,share_darts,share_baseline,share_osep,share_blk,share_xsep,internals")
    with open(run.path / "trials.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert {int(r["id"]) for r in table if r["is_pareto"] == "1"} == brute_front(trials)
    assert [r["trained_epochs"] for r in table] == ["2", "2", "2", "2", "", "1", "2"]   # empty: unknown
    for record, cells in zip(trials, table):  # shares counted by hand from the genotype's edges
        edges = [e.op for cell in (record.genotype.normal, record.genotype.reduce) for e in cell]
        for family in ("darts", "baseline", "osep", "blk", "xsep"):
            expected = sum(OPS[op].family == family for op in edges) / len(edges)
            assert float(cells[f"share_{family}"]) == pytest.approx(expected, abs=1e-4)
    assert sorted(p.name for p in run.path.iterdir()) == ["config.json", "frontier.csv", "genotypes.json",
                                                          "trials.csv"]


def test_frontier_with_flops_as_third_objective():
    ref3 = ReferencePoint(REF.objectives + (Objective("flops", "min"),), (0.0, 1e6, 1e7))
    cheap = 7
    trials = rows() + [TrialRecord.ended(cheap, DARTS_V1, 600, 1, 0.3, 2, 7)]  # dominated in 2-D, not in 3-D
    assert {r.id for r in frontier(trials, ref3)} == {2, 3, 6, cheap, 0}
    assert cheap not in {r.id for r in frontier(trials, REF)}


def test_failed_write_keeps_previous_files(run):
    run.write_trials(rows())
    before = {p.name: p.read_bytes() for p in run.path.iterdir()}
    with pytest.raises(ValueError, match="unique ids"):
        run.write_trials(rows() + rows()[:1])
    assert {p.name: p.read_bytes() for p in run.path.iterdir()} == before


def test_genotype_by_trial_id(run):
    run.write_trials(rows())
    assert run.genotype(1) == DARTS_V2 and run.genotype("3") == BLK
    with pytest.raises(ValueError, match="trial id"):
        run.genotype("99")


@pytest.mark.parametrize("setup, message", [
    (lambda p: None, "not a directory"),
    (lambda p: p.mkdir(), "no config.json"),
    (lambda p: (p.mkdir(), (p / "config.json").write_text("{oops")), "not valid JSON"),
    (lambda p: (p.mkdir(), (p / "config.json").write_text('{"format": "other"}')), "nas-sepconv-run/1"),
    (lambda p: p.write_text("a file"), "not a directory"),
])
def test_open_refuses_what_is_not_a_run(tmp_path, setup, message):
    path = tmp_path / "candidate"
    setup(path)
    with pytest.raises(ValueError, match=message):
        RunDir.open(path)


def test_open_refuses_a_bad_reference_point(run):
    meta = json.loads((run.path / "config.json").read_text())
    meta["reference_point"]["values"] = [0.0]
    (run.path / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="reference_point"):
        RunDir.open(run.path)


def test_trials_csv_of_the_old_format_still_reads():
    text = rows_to_csv(rows())
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(cells[:len(COLUMNS)] for cells in csv.reader(io.StringIO(text)))
    old = buffer.getvalue()
    assert old.splitlines()[0] == ",".join(COLUMNS)
    assert rows_from_csv(old) == rows_from_csv(text) == rows()


@pytest.mark.parametrize("derived", [True, False])
def test_trials_csv_written_before_trained_epochs_reads_with_it_unknown(derived):
    """The header of a file written before the column: OLD_COLUMNS, then (or not) the derived ones."""
    index = COLUMNS.index("trained_epochs")
    cells = [row[:index] + (row[index + 1:] if derived else []) for row in csv.reader(io.StringIO(rows_to_csv(rows())))]
    assert tuple(cells[0][:len(OLD_COLUMNS)]) == OLD_COLUMNS and "trained_epochs" not in cells[0]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(cells)
    assert rows_from_csv(buffer.getvalue()) == [replace(r, trained_epochs=None) for r in rows()]


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace("id,genotype", "key,genotype", 1), "header"),
    (lambda t: t.replace("seed,seconds", "seeds,seconds", 1), "header"),
    (lambda t: t.replace(",ok,,2,", ",ok,,two,", 1), "line 2: `trained_epochs` must be a number"),
    (lambda t: t.replace(",ok,,2,", ",ok,,-1,", 1), "line 2: `trained_epochs` must be an integer >= 0"),
    (lambda t: t.replace(",2,7,", ",two,7,", 1), "line 2: `epochs` must be a number"),
    (lambda t: t.replace("sep_conv_3x3", "sep_conv_9x9", 1), "line 2: .*registered op"),
    (lambda t: t + t.splitlines()[1] + "\n", "unique trial ids"),
    (lambda t: t.replace(",ok,", ",done,", 1), "line 2: `status`"),
])
def test_corrupt_trials_csv_is_a_value_error_naming_the_line(edit, message):
    text = edit(rows_to_csv(rows()))
    with pytest.raises(ValueError, match=message):
        rows_from_csv(text)


@pytest.mark.parametrize("kwargs, message", [
    (dict(accuracy=None), "lacks accuracy"),
    (dict(accuracy=1.5), "fraction"),
    (dict(id="a#b"), "`id` must be an integer >= 0"),
    (dict(params=-1), "params"),
    (dict(epochs=-1), "epochs"),
    (dict(genotype="DARTS_V2"), "Genotype"),
])
def test_trial_row_validation(kwargs, message):
    fields = dict(id=1, genotype=DARTS_V2, params=10, flops=20, accuracy=0.5, epochs=1, seed=0)
    with pytest.raises(ValueError, match=message):
        TrialRecord.ended(**{**fields, **kwargs})


def test_a_trial_result_becomes_a_row_with_its_genotype():
    from strategies.archive import record_from_metric

    result = {"default": 0.0, "params": 11, "flops": 22, "epochs": 2,
              "seed": 3, "seconds": 1.5, "status": "failed", "reason": "nan"}  # as evaluate_sample returns
    running = TrialRecord(5, BLK.to_sample(), "k")
    row = record_from_metric(running, result, ("accuracy", "params")).with_genotype(Genotype.from_sample)
    assert (row.id, row.genotype, row.accuracy, row.status, row.reason) == (5, BLK, None, "failed", "nan")
    assert check_row(row) is row


def test_strategy_archive_records_convert(run):
    from strategies import archive

    sample = BLK.to_sample()
    key = json.dumps(sample, sort_keys=True)
    ok = archive.TrialRecord(0, sample, key, {"accuracy": 0.75, "params": 120.0, "flops": 3400.0}, "ok",
                             seed=2, epochs=3, seconds=4.5)
    running = archive.TrialRecord(1, sample, key)
    lost = archive.record_without_metric(archive.TrialRecord(2, sample, key, {"params": 120.0}), "trial crashed")
    front = run.write_trials([ok, running, lost])
    assert run.read_trials() == [TrialRecord.ended(0, BLK, 120, 3400, 0.75, 3, 2, 4.5),
                                 TrialRecord.ended(2, BLK, 120, None, None, None, None, None, "failed", "trial crashed")]
    assert [r.id for r in front] == [0]


def test_references_round_trip(run):
    refs = [ReferenceArch("DARTS_V2", 3349342, 0.9, 528359040, 2), ReferenceArch("ResNet20", 269722, 0.8)]
    run.write_references(refs)
    assert run.read_references() == refs
    assert not [name for name in os.listdir(run.path) if name.endswith(".tmp")]


def test_reference_arch_validation():
    with pytest.raises(ValueError, match="accuracy"):
        ReferenceArch("x", 10, 90.0)
    with pytest.raises(ValueError, match="label"):
        ReferenceArch(" ", 10, 0.9)
