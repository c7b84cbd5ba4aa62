"""The tabular digits benchmark: its table, its NNI lookup evaluator and its exhaustive frontier.

Checks the committed table against independent computations: every architecture of the
sub-space once, #params/FLOPs (measured on built models when the table was made) equal to the
analytic ``SepConvDartsSpace.cost`` of the stored samples, lookups through a real NNI
experiment returning the table's numbers, and the frontier equal to a brute-force scan.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from nni.nas.evaluator import FunctionalEvaluator
from nni.nas.experiment import NasExperiment, NasExperimentConfig

from search_spaces import SepConvDartsSpace
from strategies import MultiObjectiveRandom

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks" / "tabular"))
from compare import evals_to_reach, fraction_curve  # noqa: E402
from tabular_space import MACRO, OP_CANDIDATES, TabularSubspace, choice_key, enumerate_choices, full_sample  # noqa: E402
from tabular_table import (  # noqa: E402
    TABLE_PATH,
    declared_reference,
    frontier,
    load_table,
    lookup_trial,
    read_table,
    rows_hypervolume,
)


@pytest.fixture(scope="module")
def rows():
    return read_table(TABLE_PATH)


@pytest.fixture(scope="module")
def full_space():
    return SepConvDartsSpace(op_candidates=OP_CANDIDATES, width=MACRO["width"], num_cells=MACRO["num_cells"],
                             stem=MACRO["stem"])


def test_the_table_holds_every_architecture_of_the_subspace_once(rows):
    keys = [row.key for row in rows]
    assert len(keys) == len(set(keys)) == 216
    assert set(keys) == {choice_key(c) for c in enumerate_choices()}
    assert len({row.sample for row in rows}) == 216
    assert all(0.0 < row.accuracy <= 1.0 and row.seconds > 0 for row in rows)


@pytest.mark.parametrize("index", [0, 37, 108, 199, 215])
def test_measured_costs_equal_the_analytic_cost_of_the_stored_sample(rows, full_space, index):
    row = rows[index]
    sample = json.loads(row.sample)
    cost = full_space.cost(sample)
    assert (row.params, row.flops) == (cost.params, cost.flops)
    # the stored sample is the used part of a complete sample of the full space
    full = full_sample(json.loads(row.key))
    assert full_space.check_contains(full) is None
    assert {k: full[k] for k in sample} == sample


def test_lookups_through_a_real_nni_experiment_report_the_table(rows, tmp_path):
    strategy = MultiObjectiveRandom(max_trials=6, batch_size=3, seed=1, objectives=("accuracy", "params", "flops"))
    config = NasExperimentConfig("sequential", "simplified", "local")
    config.experiment_working_directory = str(tmp_path)
    NasExperiment(TabularSubspace(), FunctionalEvaluator(lookup_trial, table=str(TABLE_PATH)), strategy, config).run()
    by_key = {row.key: row for row in rows}
    records = strategy.archive.records
    assert len(records) == 6 and all(r.status == "ok" for r in records)
    for record in records:
        row = by_key[choice_key(record.sample)]
        assert record.objectives == {"accuracy": row.accuracy, "params": row.params, "flops": row.flops}
    # the strategy's analytic cost check agrees with the table too
    assert all(strategy.is_feasible(r.sample) for r in records)


def test_lookup_trial_on_a_frozen_model(rows):
    row = rows[42]
    model = TabularSubspace().freeze(json.loads(row.key))
    assert lookup_trial(model, str(TABLE_PATH)) == {"default": row.accuracy, "params": row.params, "flops": row.flops}
    with pytest.raises(KeyError):
        lookup_trial(TabularSubspace().freeze({"normal_a": "skip_connect", "normal_b": "skip_connect",
                                               "reduce": "skip_connect"}), str(TABLE_PATH) + ".missing")


def brute_force_front(rows):
    def dominates(a, b):
        return a.accuracy >= b.accuracy and a.params <= b.params and (a.accuracy > b.accuracy or a.params < b.params)
    return {r.key for r in rows if not any(dominates(o, r) for o in rows)}


def test_the_exhaustive_frontier_is_the_brute_force_non_dominated_set(rows):
    front = frontier(rows)
    assert {r.key for r in front} == brute_force_front(rows)
    assert 2 <= len(front) < len(rows)


def test_hypervolume_fractions_grow_to_one_over_the_whole_table(rows):
    table = load_table(str(TABLE_PATH))
    reference = declared_reference(rows)
    total = rows_hypervolume(rows, reference)
    order = [row.key for row in reversed(rows)]
    curve = fraction_curve(order, table, reference, total)
    assert np.all(np.diff(curve) >= -1e-12) and curve[-1] == pytest.approx(1.0)
    # the curve reaches 1 once every frontier vector was seen (the table has tied frontier rows)
    vectors: dict[tuple, list[str]] = {}
    for row in frontier(rows):
        vectors.setdefault((row.accuracy, row.params), []).append(row.key)
    assert evals_to_reach(curve, 1.0) == 1 + max(min(order.index(k) for k in keys) for keys in vectors.values())
    one_each = [keys[0] for keys in vectors.values()]
    assert fraction_curve(one_each, table, reference, total)[-1] == pytest.approx(1.0)
    assert fraction_curve(one_each[1:], table, reference, total)[-1] < 1.0
