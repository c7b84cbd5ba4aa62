"""MO-ASHA with continued training (``checkpoint_dir``): a promotion gets its source's checkpoint and
costs only the new epochs, checkpoints are written below the top budget and deleted once used, a lost
checkpoint is retrained and counted in full, a kill and a resume keep the trials and the cost, and a
real digits run gives the retraining run's accuracies bit for bit with fewer epochs."""
from __future__ import annotations

import json
import shutil
import sys
import zlib
from pathlib import Path

import nni
import pytest
from nni.nas.evaluator import FunctionalEvaluator
from search_helpers import run_functional, run_search

from nas_sepconv.core.errors import UserError
from nas_sepconv.evaluation.record import OK
from strategies import MultiObjectiveASHA
from strategies.mo_asha import budget_evaluator

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks" / "tabular"))
from tabular_mf_table import table_checkpoint  # noqa: E402
from tabular_space import TabularSubspace, choice_key  # noqa: E402
from tabular_table import TABLE_PATH, load_table  # noqa: E402

ROWS = load_table(str(TABLE_PATH))
SETTINGS = dict(max_epochs=8, min_epochs=1, eta=2, seed=3)


def continued_trial(model, log: str, epochs: int = 8, schedule_epochs: int | None = None,
                    resume_from: str | None = None, save_checkpoint: str | None = None, snapshot: str = "",
                    snapshot_at: int = -1, lose_at: int = -1) -> dict:
    """The made-up multi-fidelity table of test_mo_asha with the tabular benchmark's checkpoints;
    logs each call (arguments, the checkpoints present, what it trained). Call ``lose_at`` (0-based)
    loses its checkpoint first; call ``snapshot_at`` copies ``snapshot``'s parent folder (state and
    checkpoints) after training: what a kill leaves before the strategy records the end."""
    key = choice_key(model.choice)
    index = len(Path(log).read_text().splitlines()) if Path(log).exists() else 0
    if index == lose_at and resume_from:
        Path(resume_from).unlink()
    folder = Path(save_checkpoint or resume_from or log).parent
    present = sorted(p.name for p in folder.glob("trial-*.pt"))
    state = table_checkpoint(key, epochs, resume_from, save_checkpoint)
    row = ROWS[key]
    wobble = (zlib.crc32(f"{key}@{epochs}".encode()) % 1000) / 1000 * 0.05 * (8 - epochs) / 8
    metric = {"default": row.accuracy * (0.6 + 0.05 * epochs) - wobble, "params": row.params, "flops": row.flops,
              "epochs": epochs, "seed": 0, **state}
    with open(log, "a") as fh:
        fh.write(json.dumps({"key": key, "epochs": epochs, "schedule": schedule_epochs, "resume": resume_from,
                             "save": save_checkpoint, "present": present, **state}) + "\n")
    if index == snapshot_at:
        shutil.copytree(Path(snapshot).parent, Path(snapshot).parent.with_name("snapshot"))
    nni.report_final_result(metric)
    return metric


def run(strategy, work, **kw):
    return run_functional(strategy, TabularSubspace(), continued_trial, work, **kw)


def logged(log):
    return [json.loads(line) for line in Path(log).read_text().splitlines()]


def trials_of(strategy):
    return [(choice_key(r.sample), strategy.budget_of(r)) for r in strategy.archive.records]


def test_promotions_continue_their_source_and_checkpoints_go_once_used(tmp_path):
    folder = tmp_path / "run" / "trainings"
    strategy = run(MultiObjectiveASHA(max_trials=40, checkpoint_dir=folder, **SETTINGS), tmp_path,
                   log=str(tmp_path / "a.log"))
    calls, records = logged(tmp_path / "a.log"), strategy.archive.records
    retrained = run(MultiObjectiveASHA(max_trials=40, **SETTINGS), tmp_path / "b", log=str(tmp_path / "b.log"))
    assert trials_of(strategy) == trials_of(retrained)            # the same decisions, fewer epochs
    assert [r.objectives for r in records] == [r.objectives for r in retrained.archive.records]
    rungs, promoted = (1, 2, 4, 8), 0
    for i, (call, record) in enumerate(zip(calls, records)):
        assert call["schedule"] == 8
        assert call["save"] == (None if call["epochs"] == 8 else str(folder.resolve() / f"trial-{record.id}.pt"))
        below = [r for r in records[:i] if r.key == record.key and strategy.budget_of(r) < call["epochs"]]
        if not below:                                             # a new architecture
            assert call["resume"] is None and call["trained_epochs"] == call["epochs"] == 1
            continue
        promoted += 1
        source = below[-1]
        assert strategy.budget_of(source) == rungs[rungs.index(call["epochs"]) - 1]
        assert call["resume"] == str(folder.resolve() / f"trial-{source.id}.pt")
        assert call["resumed_from"] == strategy.budget_of(source) and "note" not in call
        assert call["trained_epochs"] == call["epochs"] - strategy.budget_of(source)
        assert all(f"trial-{source.id}.pt" not in later["present"] for later in calls[i + 1:])   # deleted once used
        assert record.trained_epochs == strategy.trained_epochs(record.id) == call["trained_epochs"]
    assert promoted >= 5
    assert strategy.epochs_trained == sum(c["trained_epochs"] for c in calls)
    assert retrained.epochs_trained == sum(c["epochs"] for c in calls) > strategy.epochs_trained
    never_promoted = {r.id for r in records if strategy.budget_of(r) < 8} - {
        r.id for r in records if any(c["resume"] and c["resume"].endswith(f"/trial-{r.id}.pt") for c in calls)}
    assert any(f"trial-{i}.pt" in calls[-1]["present"] for i in never_promoted)   # kept: a later quota may pick it
    assert not folder.exists()                                    # the search ended: all removed


def test_max_checkpoints_caps_the_kept_ones_and_changes_only_the_cost(tmp_path):
    """With ``max_checkpoints`` 2 no call sees more than 2 checkpoints besides the one it continues and
    the one it writes; the trials are those of the uncapped run, a promotion whose source was dropped
    retrains its whole budget, and the cost lies between the uncapped run's and retraining's."""
    capped = run(MultiObjectiveASHA(max_trials=40, checkpoint_dir=tmp_path / "c" / "trainings", max_checkpoints=2,
                                    **SETTINGS), tmp_path / "c", log=str(tmp_path / "c.log"))
    uncapped = run(MultiObjectiveASHA(max_trials=40, checkpoint_dir=tmp_path / "u" / "trainings", **SETTINGS),
                   tmp_path / "u", log=str(tmp_path / "u.log"))
    retrained = run(MultiObjectiveASHA(max_trials=40, **SETTINGS), tmp_path / "r", log=str(tmp_path / "r.log"))
    calls = logged(tmp_path / "c.log")
    assert trials_of(capped) == trials_of(uncapped) == trials_of(retrained)
    assert max(len(c["present"]) for c in logged(tmp_path / "u.log")) > 4      # uncapped, they pile up
    for call in calls:
        others = set(call["present"]) - {Path(call["resume"] or "").name, Path(call["save"] or "").name}
        assert len(others) <= 2
    scratch = [c for c in calls if c["epochs"] > 1 and c["resume"] is None]
    assert scratch and all(c["trained_epochs"] == c["epochs"] for c in scratch)   # dropped source: retrained
    assert uncapped.epochs_trained < capped.epochs_trained < retrained.epochs_trained
    assert capped.epochs_trained == sum(c["trained_epochs"] for c in calls)
    with pytest.raises(UserError, match="max_checkpoints"):
        MultiObjectiveASHA(max_epochs=8, max_checkpoints=-1)


def test_a_lost_checkpoint_retrains_and_costs_the_whole_budget(tmp_path):
    first = run(MultiObjectiveASHA(max_trials=12, checkpoint_dir=tmp_path / "t", **SETTINGS), tmp_path / "a",
                log=str(tmp_path / "a.log"))
    lose = next(i for i, c in enumerate(logged(tmp_path / "a.log")) if c["resume"])
    strategy = run(MultiObjectiveASHA(max_trials=12, checkpoint_dir=tmp_path / "u", **SETTINGS), tmp_path / "b",
                   log=str(tmp_path / "b.log"), lose_at=lose)
    call, record = logged(tmp_path / "b.log")[lose], strategy.archive.records[lose]
    assert call["trained_epochs"] == call["epochs"] and call["resumed_from"] == 0
    assert "from scratch" in record.extra["note"]
    assert trials_of(strategy) == trials_of(first)
    saved = logged(tmp_path / "a.log")[lose]["resumed_from"]
    assert strategy.epochs_trained == first.epochs_trained + saved          # its lower budget trained again
    assert strategy.epochs_trained == sum(c["trained_epochs"] for c in logged(tmp_path / "b.log"))


def test_kill_while_a_promotion_runs_then_resume_gives_the_uninterrupted_trials_and_cost(tmp_path):
    run_dir = tmp_path / "run"
    state, folder = run_dir / "strategy.json", run_dir / "trainings"
    whole_log = tmp_path / "whole.log"
    probe = run(MultiObjectiveASHA(max_trials=30, **SETTINGS, checkpoint_dir=tmp_path / "p"), tmp_path / "p",
                log=str(tmp_path / "probe.log"))
    kill = [i for i, c in enumerate(logged(tmp_path / "probe.log")) if c["resume"] and c["epochs"] < 8][1]
    whole = run(MultiObjectiveASHA(max_trials=30, checkpoint_path=state, checkpoint_dir=folder, **SETTINGS),
                tmp_path, log=str(whole_log), snapshot=str(state), snapshot_at=kill)
    assert trials_of(whole) == trials_of(probe)
    snap = tmp_path / "snapshot"
    (snap / "trainings" / ".trial-0.pt.x1.tmp").write_text("torn")   # a write the kill stopped
    consumed = next(i for i, c in enumerate(logged(whole_log)[:kill]) if c["resume"])
    source = Path(logged(whole_log)[consumed]["resume"]).name
    (snap / "trainings" / source).write_text("{}")   # as if the kill came between an end and the removal
    resumed_log = tmp_path / "resumed.log"
    resumed = run(MultiObjectiveASHA(max_trials=30, checkpoint_path=snap / "strategy.json",
                                     checkpoint_dir=snap / "trainings", **SETTINGS), tmp_path / "r",
                  log=str(resumed_log))
    calls = logged(resumed_log)
    assert trials_of(resumed) == trials_of(whole)
    assert resumed.epochs_trained == whole.epochs_trained
    again = calls[0]                                   # the killed trial trains again, from its source's checkpoint
    assert again == {**logged(whole_log)[kill], "present": again["present"], "resume": again["resume"],
                     "save": again["save"]}
    assert again["resumed_from"] > 0 and "note" not in again
    assert source not in again["present"]
    assert [(c["key"], c["epochs"], c["trained_epochs"]) for c in calls] == \
        [(c["key"], c["epochs"], c["trained_epochs"]) for c in logged(whole_log)[kill:]]
    assert not (snap / "trainings").exists()


def test_checkpoint_dir_must_be_a_folder(tmp_path):
    (tmp_path / "file").write_text("")
    for bad in (tmp_path / "file", 3, "", True):
        with pytest.raises(UserError, match="checkpoint_dir"):
            MultiObjectiveASHA(max_epochs=8, checkpoint_dir=bad)
    assert MultiObjectiveASHA(max_epochs=8, checkpoint_dir="x").trainings.path.is_absolute()


def test_budget_evaluator_passes_the_checkpoint_paths_and_drops_stale_ones():
    base = FunctionalEvaluator(continued_trial, log="x", resume_from="old", save_checkpoint="old")
    assert budget_evaluator(base, 2, 8).arguments == {"log": "x", "epochs": 2, "schedule_epochs": 8}
    assert budget_evaluator(base, 2, 8, resume_from="a", save_checkpoint="b").arguments == {
        "log": "x", "epochs": 2, "schedule_epochs": 8, "resume_from": "a", "save_checkpoint": "b"}


def test_real_digits_search_trains_at_its_budgets_and_continues_bit_for_bit_with_fewer_epochs(tmp_path):
    settings = dict(max_epochs=2, min_epochs=1, eta=2, max_trials=4, seed=0, max_params=6000)
    retrained = run_search(MultiObjectiveASHA(**settings), tmp_path / "a")
    folder = tmp_path / "b" / "trainings"
    continued = run_search(MultiObjectiveASHA(**settings, checkpoint_dir=folder), tmp_path / "b")
    records = continued.archive.records
    assert [r.status for r in records] == [OK] * 4
    assert [r.epochs for r in records] == [1, 1, 2, 1]        # the better of the first two is promoted
    assert records[2].key in {records[0].key, records[1].key}
    assert [r.id for r in continued.top_budget_records()] == [2]
    assert [r.objectives for r in records] == [r.objectives for r in retrained.archive.records]   # bit for bit
    assert [r.trained_epochs for r in records] == [1, 1, 1, 1] and all("trained_epochs" not in r.extra for r in records)
    assert records[2].extra["resumed_from"] == 1
    assert (continued.epochs_trained, retrained.epochs_trained) == (4, 5)
    assert not folder.exists()
