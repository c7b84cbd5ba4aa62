"""The pool engine with real worker processes and models that train nothing (seconds): NNI's
events on the submitted model, a trial that raises, a worker that dies, side tasks, shutdown."""
from __future__ import annotations

import os
import time

import nni
import pytest
from nni.nas.evaluator import FunctionalEvaluator
from nni.nas.execution.event import ModelEventType
from nni.nas.nn.pytorch import LayerChoice, ModelSpace
from nni.nas.space import ModelStatus, SimplifiedModelSpace
from torch import nn

from nas_sepconv.runs.pool_engine import PoolExecutionEngine


class Space(ModelSpace):
    def __init__(self):
        super().__init__()
        self.op = LayerChoice({"ok": nn.Identity(), "raise": nn.ReLU(), "die": nn.Tanh(), "hang": nn.Sigmoid()},
                              label="op")


def behave(model, **_):
    kind = {nn.Identity: "ok", nn.ReLU: "raise", nn.Tanh: "die", nn.Sigmoid: "hang"}[type(model.op)]
    nni.report_intermediate_result(0.25)
    if kind == "raise":
        raise RuntimeError("planned failure")
    if kind == "die":
        os._exit(3)
    if kind == "hang":
        time.sleep(60)
    nni.report_final_result({"default": 0.5, "pid": os.getpid()})


def side(value):
    nni.report_final_result(value)  # outside a trial: NNI's standalone channel logs it, no model gets it
    return value, os.getpid()


@pytest.fixture
def engine():
    pool = PoolExecutionEngine(2, 1)
    events = []
    for kind in ModelEventType:
        pool.register_model_event_callback(kind, events.append)
    yield pool, events
    pool.shutdown()


def models(*kinds):
    space = SimplifiedModelSpace.from_model(Space(), FunctionalEvaluator(behave))
    return [space.freeze({"op": kind}) for kind in kinds]


def test_events_reach_the_submitted_models_and_failures_fail_only_their_trial(engine):
    pool, events = engine
    submitted = models("ok", "raise", "die", "ok")
    assert pool.idle_worker_available()
    pool.submit_models(*submitted)                       # 4 models, 2 workers: two wait for a worker
    assert not pool.idle_worker_available()
    pool.wait_models(*submitted)
    assert [m.status for m in submitted] == [ModelStatus.Trained, ModelStatus.Failed, ModelStatus.Failed,
                                             ModelStatus.Trained]
    for model in submitted:                              # every event names the very model submitted
        mine = [e for e in events if e.model is model]
        assert mine[0].event_type == ModelEventType.IntermediateMetric and mine[0].metric == 0.25
        assert mine[-1].event_type == ModelEventType.TrainingEnd
    assert pool.idle_worker_available() and list(pool.list_models(ModelStatus.Failed)) == submitted[1:3]
    results = [pool.submit_task(side, value=i) for i in range(2)]    # the died worker was replaced
    assert [f.result(timeout=30)[0] for f in results] == [0, 1]
    finals = [e.metric for e in events if e.event_type == ModelEventType.FinalMetric]
    assert len(finals) == 2 and all(f["default"] == 0.5 and f["pid"] != os.getpid() for f in finals)


def test_side_tasks_wait_for_a_worker_no_model_needs(engine):
    pool, _ = engine
    future = pool.submit_task(side, value=7)
    time.sleep(1.5)
    assert not future.done()                             # no model submitted yet: the strategy goes first
    (model,) = models("ok")
    pool.submit_models(model)
    assert future.result(timeout=30)[0] == 7 and model.status == ModelStatus.Trained


def test_shutdown_leaves_a_training_model_unfinished_and_cancels_side_tasks(engine):
    pool, events = engine
    (hang,) = models("hang")
    pool.submit_models(hang)
    future = pool.submit_task(side, value=1)
    pool.submit_task(side, value=2)
    start = time.monotonic()
    pool.shutdown()
    assert time.monotonic() - start < 10 and hang.status == ModelStatus.Interrupted
    assert future.cancelled() or future.done()
    assert not any(e.event_type == ModelEventType.TrainingEnd for e in events)
    with pytest.raises(RuntimeError, match="stopped"):
        pool.submit_models(*models("ok"))
