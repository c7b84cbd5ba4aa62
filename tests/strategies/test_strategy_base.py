"""Result handling of the strategy base with a scripted engine: event orders and errors that a
real engine produces only by chance (a metric after the trial's end, a broken metric)."""
from __future__ import annotations

import dataclasses
import json
import logging

import pytest
from nni.nas.execution import ExecutionEngine
from nni.nas.execution.event import FinalMetricEvent, TrainingEndEvent
from nni.nas.nn.pytorch import LayerChoice, ModelSpace
from nni.nas.space import ModelStatus, SimplifiedModelSpace
from search_helpers import MAX_PARAMS, tiny_space
from torch import nn

from strategies import MultiObjectiveEvolution, MultiObjectiveRandom

SPACE = tiny_space()


class ScriptedEngine(ExecutionEngine):
    """Runs nothing: answers each submitted model with ``script(index, model)`` events, at once."""

    def __init__(self, script):
        super().__init__()
        self.script, self.models = script, []

    def submit_models(self, *models):
        for model in models:
            model.status = ModelStatus.Training
            self.models.append(model)
            for event in self.script(len(self.models) - 1, model):
                self.dispatch_model_event(event)

    def list_models(self, status=None):
        return self.models

    def idle_worker_available(self):
        return True

    def budget_available(self):
        return True


def run(strategy, script):
    engine = ScriptedEngine(script)
    strategy(SimplifiedModelSpace.from_model(SPACE, None), engine)
    return strategy, engine


def ok(i, model):
    """A trial that reports its metric and ends trained."""
    return [FinalMetricEvent(model, metric(model)), TrainingEndEvent(model, ModelStatus.Trained)]


def metric(model, accuracy=0.5):
    cost = SPACE.cost(model.sample)
    return {"default": accuracy, "params": cost.params, "flops": cost.flops, "status": "ok"}


def test_a_metric_arriving_after_the_trial_end_is_not_lost():
    def late(i, model):
        if i == 1:  # end first, metric afterwards
            return [TrainingEndEvent(model, ModelStatus.Trained), FinalMetricEvent(model, metric(model, 0.7))]
        if i == 2:  # no metric at all
            return [TrainingEndEvent(model, ModelStatus.Failed)]
        return [FinalMetricEvent(model, metric(model)), TrainingEndEvent(model, ModelStatus.Trained)]

    strategy, _ = run(MultiObjectiveRandom(max_trials=4, batch_size=4), late)
    records = strategy.archive.records
    assert [r.status for r in records] == ["ok", "ok", "failed", "ok"]
    assert records[1].objectives["accuracy"] == 0.7 and records[1].reason == ""
    assert records[2].reason == "trial ended with no final metric (status failed)"


def test_an_error_while_handling_a_result_stops_the_search_in_its_own_thread():
    def broken(i, model):
        return [FinalMetricEvent(model, {**metric(model), "seed": "not a number"}),
                TrainingEndEvent(model, ModelStatus.Trained)]

    with pytest.raises(RuntimeError, match="handling a trial result failed"):
        run(MultiObjectiveRandom(max_trials=3), broken)


def test_constraints_reject_before_submission_and_population_ignores_failures():
    def half_fail(i, model):
        if i % 2:
            return [FinalMetricEvent(model, {**metric(model), "status": "failed", "reason": "diverged"}),
                    TrainingEndEvent(model, ModelStatus.Trained)]
        return [FinalMetricEvent(model, metric(model, 0.1 * i)), TrainingEndEvent(model, ModelStatus.Trained)]

    strategy, engine = run(MultiObjectiveEvolution(population_size=4, generations=3, max_params=MAX_PARAMS,
                                                   max_flops=100_000), half_fail)
    assert len(engine.models) == 12 == len(strategy.archive)
    assert all(SPACE.cost(m.sample).params <= MAX_PARAMS and SPACE.cost(m.sample).flops <= 100_000
               for m in engine.models)
    assert all(r.status == "ok" for r in strategy.population)
    assert [r.reason for r in strategy.archive.with_status("failed")] == ["diverged"] * 6


def test_an_older_state_does_not_overwrite_a_newer_one():
    strategy, _ = run(MultiObjectiveRandom(max_trials=4), lambda i, m: [FinalMetricEvent(m, metric(m)),
                                                                       TrainingEndEvent(m, ModelStatus.Trained)])
    newer = strategy.state_dict()
    older = {**newer, "archive": {**newer["archive"], "records": newer["archive"]["records"][:2]}}
    fresh = MultiObjectiveRandom(max_trials=4)
    fresh.load_state_dict(newer)
    fresh.load_state_dict(older)  # e.g. NNI's experiment checkpoint, written when the run started
    assert fresh.archive.records == strategy.archive.records
    with pytest.raises(ValueError, match="objectives"):
        MultiObjectiveRandom(objectives=("accuracy", "flops")).load_state_dict(newer)


class Plain(ModelSpace):
    """An NNI space with no ``cost``/``genotype``: two architectures in all."""

    def __init__(self):
        super().__init__()
        self.act = LayerChoice([nn.Identity(), nn.ReLU()], label="act")


def test_a_space_without_cost_needs_cost_fn_and_keys_samples_by_their_json():
    plain = SimplifiedModelSpace.from_model(Plain(), None)
    with pytest.raises(ValueError, match="`max_params`/`max_flops` need a cost"):
        MultiObjectiveRandom(max_params=10).initialize(plain, ScriptedEngine(lambda i, m: []))

    def answer(i, model):
        return [FinalMetricEvent(model, 0.5), TrainingEndEvent(model, ModelStatus.Trained)]

    unconstrained = MultiObjectiveRandom(max_trials=5, max_retries=30)
    unconstrained(SimplifiedModelSpace.from_model(Plain(), None), ScriptedEngine(answer))
    assert sorted(r.sample["act"] for r in unconstrained.archive.records) == [0, 1]  # then exhausted
    assert [r.status for r in unconstrained.archive.records] == ["failed", "failed"]  # params unknown
    constrained = MultiObjectiveRandom(max_trials=5, max_retries=30, max_params=10,
                                       cost_fn=lambda sample: {"params": 5 + 10 * sample["act"]})
    constrained(SimplifiedModelSpace.from_model(Plain(), None), ScriptedEngine(answer))
    assert [(r.sample, r.status, r.objectives) for r in constrained.archive.records] == [
        ({"act": 0}, "ok", {"params": 5.0, "accuracy": 0.5})]


def test_a_trial_is_logged_ok_only_after_its_checkpoint_is_written(tmp_path, caplog):
    checkpoint = tmp_path / "state.json"
    seen = []

    class Watch(logging.Handler):
        def emit(self, record):
            if "] ok" in record.getMessage():
                ended = json.loads(checkpoint.read_text())["archive"]["records"]
                seen.append(len([r for r in ended if r["status"] == "ok"]))

    handler, logger = Watch(), logging.getLogger("strategies")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        run(MultiObjectiveRandom(max_trials=3, batch_size=3, checkpoint_path=checkpoint), ok)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert seen == [1, 2, 3]


def test_an_interrupted_trial_stays_unfinished_and_planned(tmp_path):
    def interrupted(i, model):  # trial 1 gets Ctrl-C, as NNI's sequential engine reports it
        if i == 1:
            yield TrainingEndEvent(model, ModelStatus.Interrupted)
            raise KeyboardInterrupt
        yield FinalMetricEvent(model, metric(model))
        yield TrainingEndEvent(model, ModelStatus.Trained)

    strategy = MultiObjectiveRandom(max_trials=3, batch_size=3, checkpoint_path=tmp_path / "s.json")
    with pytest.raises(KeyboardInterrupt):
        run(strategy, interrupted)
    assert [r.id for r in strategy.archive.records] == [0]
    state = json.loads((tmp_path / "s.json").read_text())
    assert [e["id"] for e in state["planned"]] == [0, 1, 2] and len(state["archive"]["records"]) == 1
    resumed, engine = run(MultiObjectiveRandom(max_trials=3, batch_size=3, checkpoint_path=tmp_path / "s.json"),
                          lambda i, m: [FinalMetricEvent(m, metric(m)), TrainingEndEvent(m, ModelStatus.Trained)])
    assert len(engine.models) == 2 and [r.id for r in resumed.archive.records] == [0, 1, 2]


def test_max_seconds_stops_submitting(monkeypatch):
    import strategies.base as base

    clock = iter(range(0, 1000, 5))                  # every look at the clock: 5 s later
    monkeypatch.setattr(base.time, "monotonic", lambda: next(clock))
    strategy, engine = run(MultiObjectiveRandom(max_trials=50, batch_size=4, max_seconds=12), ok)
    assert 1 <= len(engine.models) <= 3


def test_a_state_saved_with_other_settings_is_refused(tmp_path):
    first, _ = run(MultiObjectiveRandom(max_trials=2, checkpoint_path=tmp_path / "s.json",
                                        checkpoint_meta={"seed": 0, "lr": 0.1}), ok)
    other = MultiObjectiveRandom(max_trials=2, checkpoint_meta={"seed": 1, "lr": 0.1})
    with pytest.raises(ValueError, match=r"settings changed since the checkpoint was written \(seed: 0 -> 1\)"):
        other.load_state_dict(first.state_dict())


def test_rebuild_from_records_trains_none_of_them_again():
    first, _ = run(MultiObjectiveRandom(max_trials=3, batch_size=3), ok)
    rebuilt = MultiObjectiveRandom(max_trials=5, batch_size=3)
    rebuilt.rebuild([dataclasses.replace(r.with_genotype(SPACE.genotype), epochs=1, seed=0)
                     for r in first.archive.records])
    strategy, engine = run(rebuilt, ok)
    assert len(engine.models) == 2 and [r.id for r in strategy.archive.records] == [0, 1, 2, 3, 4]
    assert len({r.key for r in strategy.archive.records}) == 5
