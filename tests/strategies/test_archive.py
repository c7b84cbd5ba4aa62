"""Archive and trial records: frontier and hypervolume vs brute force, failures, JSON round trip."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from nas_sepconv.evaluation.record import TrialRecord
from nas_sepconv.frontier.pareto import reference_for
from strategies.archive import Archive, record_from_metric, record_without_metric


def bf_front_ids(records, names):
    """Ids of 'ok' records no other 'ok' record dominates (accuracy up, costs down)."""
    def vector(r):
        return [r.objectives[n] * (-1 if n == "accuracy" else 1) for n in names]

    ok = [r for r in records if r.status == "ok"]
    return [r.id for r in ok
            if not any(all(a <= b for a, b in zip(vector(o), vector(r))) and vector(o) != vector(r) for o in ok)]


def bf_hypervolume_2d(points, ref_acc, ref_params):
    """Area dominated by (accuracy, params) points: sweep by params, adding strips."""
    inside = sorted((p, a) for a, p in points if a > ref_acc and p < ref_params)
    area, best = 0.0, ref_acc
    bounds = [p for p, _ in inside] + [ref_params]
    for (params, acc), right in zip(inside, bounds[1:]):
        best = max(best, acc)
        area += (best - ref_acc) * (right - params)
    return area


def make_archive(seed=0, n=40, with_failures=True):
    rng = np.random.default_rng(seed)
    archive = Archive(("accuracy", "params", "flops"), reference_for(("accuracy", "params", "flops"),
                                                                     {"accuracy": 0.0, "params": 10, "flops": 10}))
    for i in range(n):
        objectives = {"accuracy": float(rng.integers(0, 5)) / 4, "params": float(rng.integers(1, 9)),
                      "flops": float(rng.integers(1, 9))}
        status = "failed" if with_failures and i % 7 == 3 else ("running" if i == n - 1 else "ok")
        archive.add(TrialRecord(i, {"op": i}, f"k{i}", objectives, status=status, reason="x" if status == "failed" else ""))
    return archive


@pytest.mark.parametrize("seed", range(4))
def test_frontier_is_the_brute_force_non_dominated_set_of_ok_records(seed):
    archive = make_archive(seed)
    for names in (("accuracy", "params"), ("accuracy", "params", "flops"), ("accuracy", "flops")):
        front = archive.frontier(names)
        assert [r.id for r in front] == bf_front_ids(archive.records, names)
        assert all(r.status == "ok" for r in front)
    failed_best = TrialRecord(100, {}, "bad", {"accuracy": 1.0, "params": 0.0, "flops": 0.0}, status="failed")
    archive.add(failed_best)  # dominates everything, but failed: never on the frontier
    assert [r.id for r in archive.frontier()] == bf_front_ids(archive.records, archive.objectives)


def test_duplicates_and_ties_are_all_kept_on_the_frontier():
    archive = Archive()
    for i, (acc, params) in enumerate([(0.5, 10), (0.5, 10), (0.5, 12), (0.7, 20), (0.6, 20)]):
        archive.add(TrialRecord(i, {}, f"k{i}", {"accuracy": acc, "params": params}, status="ok"))
    assert [r.id for r in archive.frontier()] == [0, 1, 3]


def test_hypervolume_uses_the_stored_reference_and_matches_a_sweep():
    archive = make_archive(1)
    ok = archive.with_status("ok")
    expected = bf_hypervolume_2d([(r.objectives["accuracy"], r.objectives["params"]) for r in ok], 0.0, 10)
    assert archive.hypervolume(("accuracy", "params")) == pytest.approx(expected)
    assert expected > 0
    other = reference_for(("accuracy", "params"), {"accuracy": 0.25, "params": 6})
    expected = bf_hypervolume_2d([(r.objectives["accuracy"], r.objectives["params"]) for r in ok], 0.25, 6)
    assert archive.hypervolume(("accuracy", "params"), other) == pytest.approx(expected)
    with pytest.raises(ValueError, match="`reference` must be given"):
        Archive().hypervolume()
    with pytest.raises(ValueError, match="`reference` is declared over"):
        Archive(("accuracy", "params"), reference_for(("accuracy", "flops"), {"accuracy": 0, "flops": 1}))


def test_knee_is_a_frontier_record():
    archive = make_archive(2)
    assert archive.knee().id in [r.id for r in archive.frontier()]
    with pytest.raises(ValueError, match="no 'ok' record"):
        Archive().knee()


def test_json_round_trip_keeps_every_record_and_the_reference(tmp_path):
    archive = make_archive(3)
    again = Archive.from_dict(json.loads(json.dumps(archive.to_dict())))
    assert again.records == archive.records and again.reference == archive.reference
    assert again.objectives == archive.objectives
    archive.save(tmp_path / "a.json")
    assert Archive.load(tmp_path / "a.json").records == archive.records
    assert len(archive) == 40 and 5 in archive and archive[5].key == "k5"


def test_record_and_archive_validation():
    with pytest.raises(ValueError, match="`status`"):
        TrialRecord(0, {}, "k", status="done")
    with pytest.raises(ValueError, match="finite `objectives`"):
        TrialRecord(0, {}, "k", {"accuracy": math.nan}, status="ok")
    with pytest.raises(ValueError, match="`objectives`"):
        Archive(("accuracy", "latency"))
    with pytest.raises(ValueError, match="`objectives`"):
        Archive(("accuracy", "accuracy"))
    with pytest.raises(ValueError, match="missing"):
        reference_for(("accuracy", "params"), {"accuracy": 0})
    archive = Archive()
    archive.add(TrialRecord(0, {}, "k", {"accuracy": 0.5}, status="ok"))
    with pytest.raises(ValueError, match="lack objective values"):
        archive.frontier()
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="`trained_epochs` must be an integer >= 0"):
            TrialRecord(0, {}, "k", trained_epochs=bad)


def test_trained_epochs_is_a_field_and_an_old_record_moves_it_out_of_extra():
    record = TrialRecord(3, {}, "k", {"accuracy": 0.5}, status="ok", epochs=4, trained_epochs=2, extra={"note": "x"})
    assert TrialRecord.from_dict(json.loads(json.dumps(record.to_dict()))) == record
    old = {k: v for k, v in record.to_dict().items() if k != "trained_epochs"}   # saved before the field
    assert TrialRecord.from_dict({**old, "extra": {"note": "x", "trained_epochs": 2}}) == record
    assert TrialRecord.from_dict(old).trained_epochs is None
    odd = TrialRecord.from_dict({**old, "extra": {"trained_epochs": "two"}})   # not a count: left as it was
    assert (odd.trained_epochs, odd.extra) == (None, {"trained_epochs": "two"})


# ---------------------------------------------------------------- metric -> record
RUNNING = TrialRecord(4, {"a": 1}, "key", {"params": 100.0, "flops": 2000.0}, generation=2)


def test_dict_metric_of_evaluate_sample_becomes_an_ok_record():
    metric = {"default": 0.8, "params": 100, "flops": 2000, "status": "ok", "seed": 3, "epochs": 2,
              "seconds": 1.5, "split": "search"}
    record = record_from_metric(RUNNING, metric, ("accuracy", "params"))
    assert record.status == "ok" and record.reason == ""
    assert record.objectives == {"accuracy": 0.8, "params": 100.0, "flops": 2000.0}
    assert (record.seed, record.epochs, record.seconds, record.extra) == (3, 2, 1.5, {"split": "search"})
    assert (record.id, record.sample, record.key, record.generation) == (4, {"a": 1}, "key", 2)
    assert record.trained_epochs is None


@pytest.mark.parametrize("reported, field, extra", [(1, 1, {}), (np.int64(0), 0, {}), (None, None, {}),
                                                    (1.0, None, {"trained_epochs": 1.0}),
                                                    (-1, None, {"trained_epochs": -1})])
def test_reported_trained_epochs_become_the_field_not_an_extra_entry(reported, field, extra):
    metric = {"default": 0.8, "status": "ok", "seed": 3, "epochs": 2, **({} if reported is None else
                                                                         {"trained_epochs": reported})}
    record = record_from_metric(RUNNING, metric, ("accuracy", "params"))
    assert (record.status, record.trained_epochs, record.extra) == ("ok", field, extra)


@pytest.mark.parametrize("metric, reason", [
    ({"default": 0.0, "status": "failed", "reason": "non-finite training loss (nan)"}, "non-finite training loss"),
    ({"default": math.nan}, "non-finite accuracy"),
    (math.inf, "non-finite accuracy"),
    ({"default": "oops"}, "non-finite accuracy"),
    ({"default": 0.5, "status": "weird"}, "unknown trial status"),
])
def test_failed_or_nan_metrics_become_failed_records(metric, reason):
    record = record_from_metric(RUNNING, metric, ("accuracy", "params"))
    assert record.status == "failed" and reason in record.reason
    assert record.objectives["params"] == 100.0  # the analytic cost is kept


def test_extra_metric_entries_stay_json():
    record = record_from_metric(RUNNING, {"default": 0.5, "step": np.int64(3), "curve": [0.1, 0.2],
                                          "loss": math.nan}, ("accuracy", "params"))
    assert record.extra == {"step": "3", "curve": [0.1, 0.2], "loss": "nan"}
    json.dumps(record.to_dict(), allow_nan=False)


def test_scalar_metric_uses_the_analytic_cost_and_missing_objectives_fail():
    record = record_from_metric(RUNNING, 0.6, ("accuracy", "params", "flops"))
    assert record.status == "ok" and record.objectives == {"accuracy": 0.6, "params": 100.0, "flops": 2000.0}
    bare = TrialRecord(0, {}, "k")
    record = record_from_metric(bare, 0.6, ("accuracy", "params"))
    assert record.status == "failed" and "['params']" in record.reason
    record = record_without_metric(RUNNING, "trial ended failed with no final metric")
    assert record.status == "failed" and record.reason.startswith("trial ended")
