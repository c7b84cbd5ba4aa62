"""MO-ASHA: rung arithmetic, the promotion rule against a brute-force non-dominated sort and
crowding distance, real NNI runs on the tabular sub-space (trials looked up at their budget),
resume equality (the real digits run is in test_mo_asha_continued.py)."""
from __future__ import annotations

import json
import sys
import zlib
from pathlib import Path

import nni
import numpy as np
import pytest
from nni.nas.evaluator import FunctionalEvaluator
from search_helpers import run_functional

from nas_sepconv.core.errors import UserError
from nas_sepconv.evaluation.record import OK, TrialRecord
from strategies import ModelBasedASHA, MultiObjectiveASHA
from strategies.mo_asha import budget_evaluator, promotable, promotion_order, rung_budgets

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks" / "tabular"))
from tabular_space import TabularSubspace, choice_key  # noqa: E402
from tabular_table import TABLE_PATH, load_table  # noqa: E402

ROWS = load_table(str(TABLE_PATH))


def mf_trial(model, epochs: int = 8, schedule_epochs: int | None = None, log: str = "", fail_reduce: str = "") -> dict:
    """A made-up multi-fidelity table: the 216 table's accuracy shrunk at lower budgets plus a
    fixed per-(architecture, budget) perturbation; logs (key, epochs, schedule_epochs)."""
    key = choice_key(model.choice)
    if log:
        with open(log, "a") as fh:
            fh.write(json.dumps([key, epochs, schedule_epochs]) + "\n")
    row = ROWS[key]
    wobble = (zlib.crc32(f"{key}@{epochs}".encode()) % 1000) / 1000 * 0.05 * (8 - epochs) / 8
    accuracy = float("nan") if model.choice["reduce"] == fail_reduce else row.accuracy * (0.6 + 0.05 * epochs) - wobble
    metric = {"default": accuracy, "params": row.params, "flops": row.flops, "epochs": epochs, "seed": 0}
    nni.report_final_result(metric)
    return metric


def run(strategy, tmp_path, **kw):
    return run_functional(strategy, TabularSubspace(), mf_trial, tmp_path, **kw)


def trials_of(strategy):
    return [(choice_key(r.sample), strategy.budget_of(r)) for r in strategy.archive.records]


# ----- arithmetic and the promotion rule -----------------------------------------------------
def test_rung_budgets_grow_by_eta_and_end_at_the_top_budget():
    assert rung_budgets(1, 8, 2) == (1, 2, 4, 8)
    assert rung_budgets(1, 8, 3) == (1, 3, 8)
    assert rung_budgets(2, 8, 2) == (2, 4, 8)
    assert rung_budgets(1, 9, 3) == (1, 3, 9)
    assert rung_budgets(8, 8, 3) == (8,)
    for bad in [(9, 8, 2), (0, 8, 2), (1, 8, 1)]:
        with pytest.raises(UserError):
            rung_budgets(*bad)


def brute_force_order(points: np.ndarray) -> list[int]:
    """Rank by peeling non-dominated sets (accuracy up, params down), crowding per front by the
    textbook formula, then sort by (rank, -crowding, index)."""
    n, left, rank = len(points), set(range(len(points))), {}

    def dominates(a, b):
        return (points[a, 0] >= points[b, 0] and points[a, 1] <= points[b, 1]
                and (points[a, 0] > points[b, 0] or points[a, 1] < points[b, 1]))

    level, crowd = 0, {}
    while left:
        front = sorted(i for i in left if not any(dominates(j, i) for j in left if j != i))
        for i in front:
            rank[i], crowd[i] = level, 0.0
        for m in range(2):
            ordered = sorted(front, key=lambda i: (points[i, m], i))
            span = points[ordered[-1], m] - points[ordered[0], m]
            if span == 0:
                continue
            crowd[ordered[0]] = crowd[ordered[-1]] = float("inf")
            for a, i, b in zip(ordered, ordered[1:], ordered[2:]):
                if crowd[i] != float("inf"):
                    crowd[i] += (points[b, m] - points[a, m]) / span
        left -= set(front)
        level += 1
    return sorted(range(n), key=lambda i: (rank[i], -crowd[i], i))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_promotion_order_equals_brute_force_rank_then_crowding(seed):
    rng = np.random.RandomState(seed)
    points = np.column_stack([rng.choice([0.5, 0.6, 0.7, 0.8, 0.9], 12), rng.choice([1000, 2000, 3000, 4000], 12)])
    assert promotion_order(points, ("max", "min")) == brute_force_order(points)


def test_hand_made_rung_promotes_the_best_unpromoted_of_its_top_third():
    # accuracy, params: a, b, c are the frontier (a and c its extremes: infinite crowding), d-f dominated
    points = {"a": (0.90, 4000), "b": (0.85, 2500), "c": (0.70, 1000), "d": (0.80, 3000), "e": (0.60, 3500),
              "f": (0.84, 2600)}
    records = [TrialRecord(i, key=k, objectives={"accuracy": a, "params": p}, status=OK)
               for i, (k, (a, p)) in enumerate(points.items())]
    order = [records[i].key for i in promotion_order(np.array(list(points.values())), ("max", "min"))]
    assert order == ["a", "c", "b", "f", "d", "e"]
    pick = lambda ended, promoted, quota=True: promotable(records, ended, 3, ("accuracy", "params"),  # noqa: E731
                                                          set(promoted), quota)
    assert pick(6, []).key == "a"                  # floor(6 / 3) = 2: a and c may go up
    assert pick(6, ["a"]).key == "c"
    assert pick(6, ["a", "c"]) is None             # b is third: not in the top third
    assert pick(9, ["a", "c"]).key == "b"          # 3 failed trials also ended in the rung: 9 // 3 = 3
    assert pick(2, []) is None                     # floor(2 / 3) = 0
    assert pick(2, ["a", "c", "b"], quota=False).key == "f"


# ----- real NNI runs on the tabular sub-space ------------------------------------------------
def test_trials_train_at_their_rung_and_promotions_follow_the_rule(tmp_path):
    log = tmp_path / "trials.log"
    strategy = run(MultiObjectiveASHA(max_epochs=8, min_epochs=1, eta=2, epoch_budget=120, seed=3), tmp_path,
                   log=str(log))
    evaluated = [tuple(json.loads(line)) for line in log.read_text().splitlines()]
    assert [(k, e) for k, e, _ in evaluated] == trials_of(strategy)
    assert {s for _, _, s in evaluated} == {8}                       # the top budget's schedule, always
    assert {e for _, e, _ in evaluated} == {1, 2, 4, 8}
    assert all(r.epochs == strategy.budget_of(r) for r in strategy.archive.records)
    assert 120 <= strategy.epochs_trained == sum(e for _, e, _ in evaluated) < 120 + 8
    first = [k for k, e, _ in evaluated if e == 1]
    assert len(first) == len(set(first))                             # a new architecture only once
    rungs, records = (1, 2, 4, 8), strategy.archive.records
    for i, (key, epochs, _) in enumerate(evaluated):                 # replay every promotion
        if epochs == 1:
            continue
        below = [records[j] for j in range(i) if evaluated[j][1] == rungs[rungs.index(epochs) - 1]]
        done_above = {records[j].key for j in range(i) if evaluated[j][1] == epochs}
        chosen = promotable(below, len(below), 2, ("accuracy", "params"), done_above)
        assert chosen is not None and choice_key(chosen.sample) == key
    top = strategy.top_budget_records()
    assert top and all(r.epochs == 8 for r in top)
    assert {r.id for r in strategy.frontier()} <= {r.id for r in top}


@pytest.mark.parametrize("cls, extra, cut", [(MultiObjectiveASHA, {}, 12),
                                              (ModelBasedASHA, dict(initial_samples=4, candidates=64), 14)])
def test_resume_from_checkpoint_trains_what_an_uninterrupted_run_does(tmp_path, cls, extra, cut):
    settings = dict(max_epochs=8, min_epochs=1, eta=3, seed=7, **extra)   # cut: ModelBasedASHA past its uniform warm-up
    whole = run(cls(max_trials=30, **settings), tmp_path / "a")
    state = tmp_path / "b" / "state.json"
    log = tmp_path / "b.log"
    first = run(cls(max_trials=cut, checkpoint_path=state, **settings), tmp_path / "b", log=str(log))
    assert trials_of(first) == trials_of(whole)[:cut]
    second = run(cls(max_trials=30, checkpoint_path=state, **settings), tmp_path / "b", log=str(log))
    assert trials_of(second) == trials_of(whole)
    evaluated = [tuple(json.loads(line)[:2]) for line in log.read_text().splitlines()]
    assert evaluated == trials_of(whole)                              # nothing trained twice
    assert second.epochs_trained == whole.epochs_trained


def test_rebuild_from_records_alone_keeps_the_rungs_and_retrains_nothing(tmp_path):
    settings = dict(max_epochs=8, min_epochs=1, eta=3, seed=7)
    part = run(MultiObjectiveASHA(max_trials=12, **settings), tmp_path / "b")
    rebuilt = MultiObjectiveASHA(max_trials=30, **settings)
    rebuilt.rebuild(part.archive.records)        # as from trials.csv: the records' epochs give the rungs
    run(rebuilt, tmp_path / "c")
    trials = trials_of(rebuilt)
    assert trials[:12] == trials_of(part) and len(trials) == 30 and len(set(trials)) == 30


def test_rebuilt_strategy_counts_the_trained_epochs_the_records_carry():
    """As from trials.csv: with its trained_epochs column a rebuilt run counts what its promotions
    really trained; records of an old file (no column) count their whole budget."""
    def ended(i, epochs, trained):
        return TrialRecord(i, {}, f"k{i // 2}", {"accuracy": 0.5, "params": 10.0, "flops": 1.0}, status=OK,
                           seed=0, epochs=epochs, trained_epochs=trained)
    settings = dict(max_epochs=8, min_epochs=1, eta=2, max_trials=4, seed=0)
    strategy = MultiObjectiveASHA(**settings)
    strategy.rebuild([ended(0, 1, 1), ended(1, 2, 1), ended(2, 4, 2), ended(3, 1, None)])
    assert [strategy.trained_epochs(i) for i in range(4)] == [1, 1, 2, 1]
    assert strategy.epochs_trained == 5
    old = MultiObjectiveASHA(**settings)
    old.rebuild([ended(0, 1, None), ended(1, 2, None), ended(2, 4, None)])
    assert old.epochs_trained == 1 + 2 + 4


def test_failed_trials_count_in_their_rung_and_are_never_promoted(tmp_path):
    strategy = run(MultiObjectiveASHA(max_epochs=8, min_epochs=1, eta=2, max_trials=40, seed=1), tmp_path,
                   fail_reduce="skip_connect")
    failed = [r for r in strategy.archive.records if r.status == "failed"]
    assert failed and all(r.sample["reduce"] == "skip_connect" and strategy.budget_of(r) == 1 for r in failed)
    assert all(r.sample["reduce"] != "skip_connect" for r in strategy.archive.records if strategy.budget_of(r) > 1)


def test_bad_arguments_name_the_argument():
    for kwargs, name in [({"max_epochs": 8, "eta": 1}, "eta"), ({"max_epochs": 2, "min_epochs": 3}, "min_epochs"),
                         ({"max_epochs": 8, "epoch_budget": 0}, "epoch_budget")]:
        with pytest.raises(UserError, match=name):
            MultiObjectiveASHA(**kwargs)
    with pytest.raises(UserError, match="FunctionalEvaluator"):
        budget_evaluator(object(), 1, 8)


def test_budget_evaluator_sets_epochs_and_schedule_and_keeps_the_rest():
    evaluator = budget_evaluator(FunctionalEvaluator(mf_trial, epochs=8, log="x"), 2, 8)
    assert evaluator.arguments == {"epochs": 2, "schedule_epochs": 8, "log": "x"}

