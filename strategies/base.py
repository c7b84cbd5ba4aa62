"""Bookkeeping shared by our multi-trial, multi-objective NNI strategies.

NNI ranks models by the ``'default'`` entry of a metric only; the final-metric event still
carries the whole dict (docs/verified-facts.md), so :class:`MultiObjectiveStrategy` listens for it and
turns each trial into a :class:`~strategies.archive.TrialRecord` with accuracy, #params and
FLOPs. It also rejects duplicates (canonical key, by default the genotype) and samples over
``max_params``/``max_flops`` (analytic cost, before a trial is spent), records failures
(a reported ``status: failed``, a NaN accuracy, a trial that raised, a trial with no metric)
and keeps the search resumable. The exception text of a trial that raised reaches the record
on the sequential engine (which re-raises it); a training-service trial only reports that it
failed, its traceback stays in the trial's log under the NNI experiment directory.

A search runs in *generations*: a subclass proposes a batch of samples (``_propose``), they are
submitted as the engine has free workers (several at once on the training-service engine;
results are handled as they arrive, from NNI's listener thread, under a lock), and once all of
them ended the subclass updates its state (``_end_generation``). Ids and samples are fixed
when a generation is planned, so the run is reproducible for a seed on the sequential engine.

Resuming: NNI's ``NasExperiment`` checkpoints ``state_dict()`` only when it starts and stops,
so a SIGKILL loses the progress. Given ``checkpoint_path``, the strategy itself atomically
writes its state (JSON) after each planned generation and each ended trial, and restores it in
``initialize``: completed trials are never trained again, the unfinished trials of the current
generation are submitted again under their ids, and the run ends as an uninterrupted one would.
"""
# ruff: noqa: E402 (the imports below follow import_nni())
from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from nas_sepconv.core.quiet import import_nni

import_nni()  # before NNI loads: quiets its import-time warnings
from nni.nas.execution.event import FinalMetricEvent, ModelEventType, TrainingEndEvent
from nni.nas.space import ModelStatus
from nni.nas.strategy import Strategy
from numpy.random import RandomState

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.io import atomic_write_json
from nas_sepconv.core.validation import check_positive_float, check_positive_int
from nas_sepconv.evaluation.record import FAILED, OK, RUNNING, TrialRecord
from nas_sepconv.frontier.objectives import check_objectives
from nas_sepconv.frontier.pareto import ReferencePoint, declared_reference

from .archive import Archive, record_from_metric, record_without_metric, sample_key
from .evolution_ops import Sample
from .space_info import CostFn, KeyFn, cost_values, resolve_cost_fn, resolve_key_fn

_logger = logging.getLogger(__name__)
STATE_VERSION = 1
NO_METRIC = "trial ended with no final metric"


def _cut(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


class MultiObjectiveStrategy(Strategy):
    """Base of our strategies (keyword-only arguments, validated at once).

    ``objectives``: names among accuracy (max), params (min), flops (min). ``max_trials``:
    trials to run in total (failed ones count; ``None``: until the engine's budget or the
    subclass stops). ``max_params``/``max_flops``: constraints checked on the analytic cost.
    ``cost_fn(sample)``/``key_fn(sample)``: cost and duplicate key (defaults: the space's
    ``cost`` and ``genotype``). ``reference``: the declared hypervolume reference, a
    ``ReferencePoint`` or {name: value} (default: accuracy 0 and the constraints, if given).
    ``seed``; ``checkpoint_path``: JSON state file, written atomically and resumed from;
    ``max_retries``: draws allowed per new sample before giving up on duplicates/constraints.
    ``max_seconds``: no trial is submitted once this many seconds of this call to ``run`` passed
    (the running ones finish). ``checkpoint_meta``: plain JSON (e.g. the run's settings) saved with the state; a state saved
    with other ``checkpoint_meta`` is refused on load, naming what changed.
    """

    def __init__(self, *, objectives: Sequence[str] = ("accuracy", "params"), max_trials: int | None = None,
                 max_params: float | None = None, max_flops: float | None = None, cost_fn: CostFn | None = None,
                 key_fn: KeyFn | None = None, reference: ReferencePoint | Mapping[str, float] | None = None,
                 seed: int = 0, checkpoint_path: str | Path | None = None, max_retries: int = 200,
                 checkpoint_meta: Mapping[str, Any] | None = None, max_seconds: float | None = None) -> None:
        super().__init__()
        self.objectives = check_objectives(objectives)
        self.max_trials = None if max_trials is None else check_positive_int("max_trials", max_trials)
        self.limits = {k: check_positive_float(f"max_{k}", v) for k, v in (("params", max_params),
                                                                            ("flops", max_flops)) if v is not None}
        self.seed = check_positive_int("seed", seed, minimum=0)
        self.max_retries = check_positive_int("max_retries", max_retries)
        self.checkpoint_path = None if checkpoint_path is None else Path(checkpoint_path)
        self.max_seconds = None if max_seconds is None else check_positive_float("max_seconds", max_seconds)
        self._deadline: float | None = None
        self.checkpoint_meta = None if checkpoint_meta is None else json.loads(json.dumps(checkpoint_meta))
        self.archive = Archive(self.objectives, declared_reference(self.objectives, reference, self.limits))
        self._user_cost_fn, self._user_key_fn = cost_fn, key_fn
        self._cost_fn: CostFn | None = None
        self._key_fn: KeyFn = key_fn or sample_key
        self._rng = RandomState(self.seed)
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self.generation = 0
        self._planned: list[dict[str, Any]] = []     # entries {id, sample, key, cost} of this generation
        self._queue: list[dict[str, Any]] = []       # planned entries not yet submitted
        self._next_id = 0
        self._models: dict[int, Any] = {}            # trial id -> submitted model (strong reference:
        self._running: set[int] = set()              # the training-service engine keeps weak ones)
        self._callback_error: BaseException | None = None
        self._metrics: dict[int, Any] = {}
        self._taken: set[str] = set()

    # ----- subclass hooks -------------------------------------------------------------
    def _propose(self, limit: int | None) -> list[Sample]:
        """New samples for the next generation, at most ``limit`` (``None``: no limit); draw
        each with :meth:`_draw_new`. An empty list ends the search."""
        raise NotImplementedError

    def _end_generation(self, records: list[TrialRecord]) -> None:
        """Called with the records of the generation that just ended (ids in plan order)."""

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _load_extra_state(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`_extra_state` saved."""

    # ----- public ---------------------------------------------------------------------
    def frontier(self, objectives: Sequence[str] | None = None) -> list[TrialRecord]:
        """Non-dominated successful trials (default: this strategy's objectives)."""
        with self._lock:
            return self.archive.frontier(objectives)

    def hypervolume(self, objectives: Sequence[str] | None = None) -> float:
        with self._lock:
            return self.archive.hypervolume(objectives)

    def is_feasible(self, sample: Mapping[str, Any]) -> bool:
        """Whether ``sample`` meets ``max_params``/``max_flops`` by its analytic cost."""
        return all(self._cost(sample).get(k, float("inf")) <= v for k, v in self.limits.items())

    # ----- NNI strategy interface -------------------------------------------------------
    def _initialize(self, model_space: Any, engine: Any) -> Any:
        self._cost_fn = resolve_cost_fn(model_space, self._user_cost_fn)
        self._key_fn = resolve_key_fn(model_space, self._user_key_fn)
        if self.limits and self._cost_fn is None:
            raise UserError("`max_params`/`max_flops` need a cost: pass `cost_fn`, or use a space with `cost(sample)`.")
        engine.register_model_event_callback(ModelEventType.FinalMetric, self._on_final_metric)
        engine.register_model_event_callback(ModelEventType.TrainingEnd, self._on_training_end)
        if self.checkpoint_path is not None and self.checkpoint_path.exists():
            self.load_state_dict(json.loads(self.checkpoint_path.read_text(encoding="utf-8")))
            _logger.info("Resumed from %s: %d trials done, generation %d.", self.checkpoint_path,
                         len(self.archive), self.generation)
        return model_space

    def _cleanup(self) -> None:
        self.engine.unregister_model_event_callback(ModelEventType.FinalMetric, self._on_final_metric)
        self.engine.unregister_model_event_callback(ModelEventType.TrainingEnd, self._on_training_end)

    def _out_of_time(self) -> bool:
        if self.max_seconds is None:
            return False
        if self._deadline is None:
            self._deadline = time.monotonic() + self.max_seconds
        return time.monotonic() >= self._deadline

    def wait_for_resource(self) -> bool:
        """NNI's, woken by a trial's end instead of checking the engine once a second (a second
        lost per trial on an engine with concurrent trials of a few seconds each)."""
        while True:
            with self._changed:  # checked under the lock that a trial's end notifies: no wake-up is missed
                if self.engine.idle_worker_available():
                    break
                self._changed.wait(timeout=1.0)
            self._raise_callback_error()
            if not self.engine.budget_available():
                return False
        return self.engine.budget_available()

    def _run(self) -> None:
        self._deadline = None
        while True:
            if self._out_of_time():
                _logger.info("The time budget of %g s is spent: stopping.", self.max_seconds)
                break
            if not self._queue:
                self._wait_running()
                if self._planned:
                    self._end_generation([self.archive[e["id"]] for e in self._planned if e["id"] in self.archive])
                    self.generation += 1
                if not self._plan_generation():
                    break
                continue
            if not self.wait_for_resource():
                _logger.info("The engine has no budget left.")
                break
            self._submit(self._queue.pop(0))
            self._raise_callback_error()
        self._wait_running()
        _logger.info("Search ended: %d trials, %d on the frontier.", len(self.archive), len(self.frontier()))

    def state_dict(self) -> dict[str, Any]:
        """Plain JSON state: archive (ended trials), generation plan, RNG, subclass state."""
        with self._lock:
            archive = self.archive.to_dict()
            archive["records"] = [r for r in archive["records"] if r["status"] != RUNNING]
            state = self._rng.get_state(legacy=False)
            rng = {**state, "state": {"key": state["state"]["key"].tolist(), "pos": int(state["state"]["pos"])}}
            state = {"version": STATE_VERSION, "archive": archive, "generation": self.generation,
                     "planned": self._planned, "next_id": self._next_id, "rng": rng, "extra": self._extra_state()}
            if self.checkpoint_meta is not None:
                state["meta"] = self.checkpoint_meta
            return state

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`; a state with fewer ended trials than the current one is
        ignored (NNI's own experiment checkpoint can be older than ``checkpoint_path``)."""
        with self._lock:
            self._check_meta(state_dict.get("meta"))
            archive = Archive.from_dict(state_dict["archive"])
            if archive.objectives != self.objectives:
                raise UserError(f"the saved state has objectives {archive.objectives}, "
                                f"this strategy {self.objectives}.")
            ended = len(self.archive.with_status(OK, FAILED))
            if len(archive) < ended:
                _logger.warning("Ignoring a state with %d ended trials: %d are already loaded.", len(archive), ended)
                return
            self.archive = archive
            self.generation = int(state_dict["generation"])
            self._planned = list(state_dict["planned"])
            self._queue = [e for e in self._planned if e["id"] not in self.archive]
            self._next_id = int(state_dict["next_id"])
            self._rng.set_state(state_dict["rng"])
            self._load_extra_state(state_dict.get("extra", {}))

    def _check_meta(self, saved: Any) -> None:
        if self.checkpoint_meta is None or saved is None or saved == self.checkpoint_meta:
            return
        if not isinstance(saved, Mapping):
            raise UserError(f"the saved state's `meta` must be a mapping, got {type(saved).__name__}.")
        changed = sorted(set(saved) | set(self.checkpoint_meta))
        changed = [k for k in changed if saved.get(k) != self.checkpoint_meta.get(k)]
        shown = "; ".join(f"{k}: {_cut(saved.get(k))} -> {_cut(self.checkpoint_meta.get(k))}" for k in changed[:5])
        raise UserError(f"the settings changed since the checkpoint was written ({shown}); "
                        "resuming would mix them in one run.")

    def rebuild(self, records: Sequence[TrialRecord]) -> None:
        """Restore from ended trial records alone (the checkpoint was lost): they count towards
        ``max_trials`` and are never proposed again; records with a sample seed the next
        generation's parents (``_end_generation``)."""
        with self._lock:
            for record in records:
                self.archive.add(record.check_ended())
            self._next_id = max((r.id for r in records), default=-1) + 1
            self.generation = max((r.generation for r in records), default=-1) + 1
            self._planned, self._queue = [], []
            parents = [r for r in records if r.sample and r.status == "ok"]
            if parents:
                self._end_generation(parents)
            self._save_checkpoint()

    def merge(self, records: Sequence[TrialRecord]) -> None:
        """Add ended records a restored checkpoint lacks (the run's files were written after it)."""
        with self._lock:
            for record in records:
                self.archive.add(record.check_ended())
            self._queue = [e for e in self._queue if e["id"] not in self.archive]
            self._next_id = max([self._next_id, *(r.id + 1 for r in records)])

    # ----- planning ---------------------------------------------------------------------
    def _draw_new(self, make: Callable[[], Sample]) -> Sample | None:
        """Call ``make`` until it gives a valid, feasible sample whose key no trial and no
        sample planned so far has. ``None`` after ``max_retries`` draws."""
        check = getattr(self.model_space, "check_contains", lambda sample: None)
        for _ in range(self.max_retries):
            sample = make()
            key = self._key_fn(sample)
            if key in self._taken or check(sample) is not None:
                continue
            if not self.is_feasible(sample):
                _logger.debug("Rejected (constraints) before training: %s", key)
                continue
            self._taken.add(key)
            return sample
        return None

    def _plan_generation(self) -> bool:
        """Plan the next generation; False when the budget is spent or nothing new is left."""
        left = None if self.max_trials is None else self.max_trials - len(self.archive)
        if left is not None and left <= 0:
            return False
        self._taken = self.archive.keys()
        samples = self._propose(left)[:left]
        if not samples:
            _logger.info("No new feasible sample could be proposed: stopping.")
            return False
        with self._lock:
            self._planned = []
            for sample in samples:
                self._planned.append({"id": self._next_id, "sample": sample, "key": self._key_fn(sample),
                                      "cost": self._cost(sample)})
                self._next_id += 1
            self._queue = list(self._planned)
            _logger.info("Generation %d: %d trials planned.", self.generation, len(self._planned))
            self._save_checkpoint()
        return True

    def _cost(self, sample: Mapping[str, Any]) -> dict[str, float]:
        return {} if self._cost_fn is None else cost_values(self._cost_fn(sample))

    # ----- submitting and results ---------------------------------------------------------
    def _freeze(self, entry: dict[str, Any]) -> Any:
        """The executable model of a planned entry (a subclass may adapt its evaluator)."""
        return self.model_space.freeze(entry["sample"])

    def _submit(self, entry: dict[str, Any]) -> None:
        model = self._freeze(entry)
        trial_id = entry["id"]
        with self._lock:
            self._models[trial_id] = model
            self._running.add(trial_id)
            self.archive.add(TrialRecord(trial_id, entry["sample"], entry["key"], dict(entry["cost"]),
                                         generation=self.generation))
        _logger.info("[Trial %d] submitted: %s", trial_id, entry["key"])
        try:
            self.engine.submit_models(model)
        except Exception as err:  # the sequential engine re-raises what the trial raised
            if model.status != ModelStatus.Failed:
                raise
            self._end(trial_id, None, f"trial raised {type(err).__name__}: {err}")

    def _trial_of(self, model: Any) -> int | None:
        return next((i for i, m in self._models.items() if m is model), None)

    def _on_final_metric(self, event: FinalMetricEvent) -> None:
        with self._guard():
            trial_id = self._trial_of(event.model)
            if trial_id in self._running:
                self._metrics[trial_id] = event.metric
            elif trial_id is not None and self.archive[trial_id].reason.startswith(NO_METRIC):
                self._end(trial_id, event.metric, "")  # the metric arrived after the trial's end

    def _on_training_end(self, event: TrainingEndEvent) -> None:
        with self._guard():
            trial_id = self._trial_of(event.model)
            if trial_id is None:
                _logger.warning("Training end of a model this strategy did not submit: ignored.")
                return
            if event.status == ModelStatus.Interrupted and trial_id in self._running:
                self._unfinished(trial_id)
                return
            self._end(trial_id, self._metrics.pop(trial_id, None), f"{NO_METRIC} (status {event.status.value})")

    def _unfinished(self, trial_id: int) -> None:
        """An interrupted trial (Ctrl-C) has not ended: it leaves the archive and stays planned,
        so a resume trains it again, as an uninterrupted run would have."""
        self._running.discard(trial_id)
        self._metrics.pop(trial_id, None)
        self.archive.discard(trial_id)
        _logger.warning("[Trial %d] interrupted: unfinished, a resume trains it again.", trial_id)
        self._save_checkpoint()
        self._changed.notify_all()

    def _end(self, trial_id: int, metric: Any, reason: str) -> None:
        """Record an ended trial: from its metric, else failed with ``reason``. Once ended, a
        trial's record only changes for a late metric or a better reason for a failure."""
        with self._changed:
            was_running, old = trial_id in self._running, self.archive[trial_id]
            self._running.discard(trial_id)
            record = old
            if metric is not None:
                record = record_from_metric(old, metric, self.objectives)
            elif was_running or old.status == FAILED:
                record = record_without_metric(old, reason)
            if was_running or record != old:
                self.archive.add(record)
                self._save_checkpoint()       # logged as ended only once the checkpoint holds it
                log = _logger.info if record.status == OK else _logger.warning
                log("[Trial %d] %s %s%s", trial_id, record.status, record.objectives,
                    f" ({record.reason})" if record.reason else "")
            self._changed.notify_all()

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """Run an engine callback under the lock; an error is handed to the strategy's thread
        (an exception in the training-service engine's listener thread would stop all results)."""
        with self._changed:
            try:
                yield
            except Exception as err:  # noqa: BLE001 - re-raised by _raise_callback_error
                (_logger.error if isinstance(err, OSError) else _logger.exception)(
                    "Error while handling a trial result: %s", err)
                self._callback_error = err
                self._changed.notify_all()

    def _raise_callback_error(self) -> None:
        err = self._callback_error
        if isinstance(err, OSError):  # e.g. a full disk while saving the checkpoint: not a bug
            raise err
        if err is not None:
            raise RuntimeError("handling a trial result failed") from err

    def _wait_running(self) -> None:
        with self._changed:
            while self._running and self._callback_error is None:
                self._changed.wait(timeout=1.0)
        self._raise_callback_error()

    def _save_checkpoint(self) -> None:
        if self.checkpoint_path is not None:
            atomic_write_json(self.checkpoint_path, self.state_dict())

