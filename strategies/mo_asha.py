"""Multi-objective asynchronous successive halving (MO-ASHA) over NNI samples.

ASHA (Li et al., 2020, "A System for Massively Parallel Hyperparameter Tuning", Algorithm 2)
with the multi-objective promotion of MO-ASHA (Schmucker et al., 2021, "Multi-objective
Asynchronous Successive Halving"; here the NSGA-II ranking, one of the rankings they study):

- Rungs are budgets in epochs, ``min_epochs * eta**k`` while below ``max_epochs``, then
  ``max_epochs`` (:func:`rung_budgets`: 1, 2, 4, 8 for min 1, eta 2, max 8; 1, 3, 8 for eta 3).
- Whenever a worker is free, the next job is planned from what has ended so far: from the highest
  rung down, the first trial of rung ``k`` that is among the best ``floor(n_k / eta)`` of the
  ``n_k`` trials that ended in that rung (failed ones count in ``n_k`` and rank last) and has not
  been promoted yet trains at the budget of rung ``k + 1``; if there is none, a new architecture
  (uniformly drawn, unique, feasible: :meth:`MultiObjectiveASHA._new_sample`, which
  :class:`~strategies.model_based_asha.ModelBasedASHA` overrides) trains at the lowest budget.
  "Best" within a rung is the NSGA-II order of its 'ok' trials on the strategy's objectives at that
  rung's budget: non-dominated rank, then larger crowding distance, then the lower trial id
  (:func:`promotion_order`). When no new architecture is left, the best unpromoted trial of the
  highest rung is promoted without the quota, so a finite space still ends at the top budget.
- On the training-service engine jobs are planned one at a time as workers free up, so promotions
  are asynchronous (a rung never waits for all its trials); on the sequential engine one trial runs
  at a time and the run is reproducible for a seed.

A trial at budget ``b`` trains ``epochs=b`` epochs with ``schedule_epochs=max_epochs``
(``nas_sepconv.evaluation.train.TrainConfig``): the intermediate point after ``b`` epochs of the
top-budget run. The strategy hands both to the trial by replacing the evaluator of each frozen
model with a copy whose ``epochs`` and ``schedule_epochs`` arguments are the job's
(``strategies.asha_trainings.budget_evaluator``; the evaluator must be a ``FunctionalEvaluator``
whose function takes them, as ``evaluate_sample`` and the tabular benchmark's lookup do).

Continued training (``checkpoint_dir``, what ``nas-sepconv search`` sets): as in ASHA, a promoted
trial continues the run of the trial it was promoted from instead of retraining. Every trial below
the top budget gets ``save_checkpoint`` (``checkpoint_dir/trial-<id>.pt``, written after its last
epoch), and a promotion whose source left its checkpoint gets ``resume_from`` it and trains only
``b_{k+1} - b_k`` epochs (``nas_sepconv.evaluation.checkpoint``: on the CPU the very numbers of the
uninterrupted run). A checkpoint is deleted once the promotion that continued it has ended (each
architecture is promoted from a rung at most once) and all of them when the search ends with nothing
left to plan; a search stopped by its time or the engine's budget keeps them for a resume. Without
``checkpoint_dir`` a promoted trial trains its ``b`` epochs again from scratch (the same numbers,
more epochs).

Cost: :attr:`MultiObjectiveASHA.epochs_trained` sums, per trial, the epochs it reported it trained
(``trained_epochs`` in its metric, kept as ``TrialRecord.trained_epochs`` and in ``trials.csv``: a
continued promotion ``b_{k+1} - b_k``, a retrain or a checkpoint that could not be used ``b``), and
the planned epochs of the trials not ended yet.

Frontier rule: only trials at ``max_epochs`` may be on the strategy's frontier (:meth:`frontier`,
:meth:`hypervolume`); lower-budget trials are kept in the archive with their ``epochs`` but never
mixed into it. The run directory (``nas_sepconv.evaluation.record.top_fidelity``) uses the trials
at the highest budget an 'ok' trial reached, which is ``max_epochs`` as soon as one trial got there
(before that, a partial run shows the frontier of its highest budget so far, never a mix).

Budget: ``max_trials`` counts trials (each rung evaluation is one), ``epoch_budget`` the epochs
trained (no job starts once it is spent). Resume: the state is the archive, the pending jobs (with
the checkpoint each continues) and the RNG, written after each planned job and each ended trial
(``checkpoint_path``); a kill and a resume give the same trials and the same cost as an
uninterrupted run on the sequential engine: a trial that was running trains again from its source's
checkpoint (kept until its end is recorded) and overwrites the checkpoint it may have left.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Mapping, Sequence

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.validation import check_positive_int
from nas_sepconv.evaluation.record import FAILED, OK, RUNNING, TrialRecord
from nas_sepconv.frontier.objectives import senses

from .archive import Archive
from .asha_trainings import TrainingFolder, budget_evaluator
from .base import MultiObjectiveStrategy
from .evolution_ops import Sample, nsga2_select, random_sample

__all__ = ["MultiObjectiveASHA", "budget_evaluator", "promotable", "promotion_order", "ranked", "rung_budgets"]
_logger = logging.getLogger(__name__)
MIN_EPOCHS, ETA = 1, 3   # defaults: rungs 1, 3, 9, ... epochs up to the top budget


def rung_budgets(min_epochs: int, max_epochs: int, eta: int) -> tuple[int, ...]:
    """The rung budgets in epochs: ``min_epochs * eta**k`` below ``max_epochs``, then ``max_epochs``."""
    min_epochs = check_positive_int("min_epochs", min_epochs)
    max_epochs = check_positive_int("max_epochs", max_epochs)
    eta = check_positive_int("eta", eta, minimum=2)
    if min_epochs > max_epochs:
        raise UserError(f"`min_epochs` must be <= the top budget `max_epochs` ({max_epochs}), got {min_epochs}.")
    budgets, budget = [], min_epochs
    while budget < max_epochs:
        budgets.append(budget)
        budget *= eta
    return (*budgets, max_epochs)


def promotion_order(points: Any, objective_senses: Sequence[str]) -> list[int]:
    """Indices of a rung's 'ok' trials best first: NSGA-II rank, then crowding distance
    (larger first), then index."""
    n = len(points)
    return [] if n == 0 else [int(i) for i in nsga2_select(points, objective_senses, n)]


def ranked(records: Sequence[TrialRecord], objectives: Sequence[str]) -> list[int]:
    """:func:`promotion_order` of a rung's 'ok' ``records`` on ``objectives``."""
    return promotion_order(Archive(objectives).points(records, objectives), senses(objectives)) if records else []


def promotable(records: Sequence[TrialRecord], ended: int, eta: int, objectives: Sequence[str],
               promoted: set[str], quota: bool = True) -> TrialRecord | None:
    """The trial of a rung to promote next: among the best ``floor(ended / eta)`` of its 'ok'
    ``records`` (all of them without ``quota``), the first whose key is not in ``promoted``."""
    if not records:
        return None
    order = ranked(records, objectives)
    top = order if not quota else order[:ended // eta]
    return next((records[i] for i in top if records[i].key not in promoted), None)


class MultiObjectiveASHA(MultiObjectiveStrategy):
    """MO-ASHA over an NNI model space; see the module docstring for the algorithm.

    Keyword-only: ``max_epochs`` (the top budget; a search job passes its ``epochs``),
    ``min_epochs`` (:data:`MIN_EPOCHS`), ``eta`` (:data:`ETA`, the reduction factor),
    ``epoch_budget`` (epochs to train in all, ``None``: no limit), ``checkpoint_dir`` (a folder for
    the training checkpoints that promotions continue; ``None``: promotions retrain),
    ``max_checkpoints`` (at most this many checkpoints kept besides those planned jobs continue;
    ``None``: no cap; see the module docstring), and every argument of
    :class:`~strategies.base.MultiObjectiveStrategy`.
    """

    def __init__(self, *, max_epochs: int, min_epochs: int = MIN_EPOCHS, eta: int = ETA,
                 epoch_budget: int | None = None, checkpoint_dir: str | os.PathLike | None = None,
                 max_checkpoints: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_checkpoints = None if max_checkpoints is None else check_positive_int(
            "max_checkpoints", max_checkpoints, minimum=0)
        self.trainings = None if checkpoint_dir is None else TrainingFolder(checkpoint_dir)
        self.rungs = rung_budgets(min_epochs, max_epochs, eta)
        self.min_epochs, self.max_epochs, self.eta = self.rungs[0], self.rungs[-1], int(eta)
        self.epoch_budget = None if epoch_budget is None else check_positive_int("epoch_budget", epoch_budget)
        if self.max_trials is None and self.epoch_budget is None:
            _logger.info("Neither `max_trials` nor `epoch_budget` given: the engine's budget stops the search.")
        self._budget: dict[int, int] = {}   # trial id -> its rung's budget
        self._source: dict[int, int] = {}   # trial id -> the trial whose checkpoint it continues
        self._planned_at = 0                # trials ended when the last job was planned

    def extra_repr(self) -> str:
        return (f"objectives={self.objectives}, rungs={self.rungs}, eta={self.eta}, max_trials={self.max_trials}, "
                f"epoch_budget={self.epoch_budget}, continued={self.trainings is not None}, seed={self.seed}")

    # ----- results ----------------------------------------------------------------------
    @property
    def epochs_trained(self) -> int:
        """The run's cost: the epochs each ended trial reported it trained, plus the planned epochs
        of the others (running ones included)."""
        with self._lock:
            return sum(self.trained_epochs(i) for i in self._budget)

    def trained_epochs(self, trial_id: int) -> int:
        """The epochs trial ``trial_id`` trained (reported) or is planned to train."""
        source = self._source.get(trial_id)
        planned = self._budget[trial_id] - (0 if source is None else self._budget[source])
        record = self.archive[trial_id] if trial_id in self.archive else None
        reported = None if record is None or record.status == RUNNING else record.trained_epochs
        return planned if reported is None else reported

    def top_budget_records(self) -> list[TrialRecord]:
        """The ended trials at the top budget (those a frontier may use)."""
        with self._lock:
            return [r for r in self.archive.records if r.status != RUNNING and self.budget_of(r) == self.max_epochs]

    def _top_archive(self) -> Archive:
        return Archive(self.archive.objectives, self.archive.reference, self.top_budget_records())

    def frontier(self, objectives: Sequence[str] | None = None) -> list[TrialRecord]:
        """Non-dominated successful trials at the top budget ``max_epochs``."""
        with self._lock:
            return self._top_archive().frontier(objectives)

    def hypervolume(self, objectives: Sequence[str] | None = None) -> float:
        """Hypervolume of the successful trials at the top budget ``max_epochs``."""
        with self._lock:
            return self._top_archive().hypervolume(objectives)

    def rung_of(self, record: TrialRecord) -> int:
        """The rung index of a trial."""
        return self.rungs.index(self.budget_of(record))

    def budget_of(self, record: TrialRecord) -> int:
        """The epochs a trial trains (its rung's budget), known from its planning on."""
        budget = self._budget.get(record.id, record.epochs)
        return budget if budget in self.rungs else self.rungs[0]

    # ----- planning ---------------------------------------------------------------------
    def _propose(self, limit: int | None) -> list[Sample]:   # jobs are planned one by one (_next_job)
        raise NotImplementedError

    def _budget_left(self) -> bool:
        if self.max_trials is not None and len(self.archive) + len(self._queue) >= self.max_trials:
            return False
        return self.epoch_budget is None or self.epochs_trained < self.epoch_budget

    def _next_job(self) -> dict[str, Any] | None:
        """Plan the next job (a promotion or a new architecture); ``None`` if there is none now."""
        with self._lock:
            self._planned_at = self._ended()
            if not self._budget_left():
                return None
            job = self._promotion(quota=True)
            if job is None:
                self._taken = {r.key for r in self.archive.records} | {e["key"] for e in self._queue}
                sample = self._new_sample()
                if sample is not None:
                    job = (sample, self.rungs[0], None)
            if job is None:
                job = self._promotion(quota=False)
            if job is None:
                return None
            sample, budget, source = job
            entry = {"id": self._next_id, "sample": sample, "key": self._key_fn(sample), "cost": self._cost(sample),
                     "epochs": budget}
            self._next_id += 1
            self._budget[entry["id"]] = budget
            if source is not None and self.trainings is not None and self.trainings.has(source.id):
                self._source[entry["id"]] = source.id
            self._planned = self._pending() + [entry]
            self._queue.append(entry)
            self.generation += 1
            self._save_checkpoint()
            return entry

    def _pending(self) -> list[dict[str, Any]]:
        """The planned jobs that have not ended: queued, or running."""
        return [e for e in self._planned if e["id"] not in self.archive or self.archive[e["id"]].status == RUNNING]

    def _new_sample(self) -> Sample | None:
        """A new architecture for the lowest rung (unique by ``_taken``, which holds the keys of
        every trial and planned job, and feasible), or ``None`` if none is found: a uniform draw
        here; :class:`~strategies.model_based_asha.ModelBasedASHA` proposes by EHVI instead."""
        space = self.model_space.simplify()
        return self._draw_new(lambda: random_sample(space, self._rng))

    def _promotion(self, quota: bool) -> tuple[Sample, int, TrialRecord] | None:
        """(sample, next budget, its record) of the trial to promote, from the highest rung down."""
        by_rung: list[list[TrialRecord]] = [[] for _ in self.rungs]
        for record in self.archive.records:
            by_rung[self.rung_of(record)].append(record)
        for k in range(len(self.rungs) - 2, -1, -1):
            ended = [r for r in by_rung[k] if r.status in (OK, FAILED)]
            ok = [r for r in ended if r.status == OK]
            promoted = {r.key for r in by_rung[k + 1]}
            chosen = promotable(ok, len(ended), self.eta, self.objectives, promoted, quota)
            if chosen is not None:
                _logger.info("[Trial %d] promoted from %d to %d epochs.", chosen.id, self.rungs[k], self.rungs[k + 1])
                return dict(chosen.sample), self.rungs[k + 1], chosen
            if not quota and ok:
                break   # without the quota, only the highest rung with results promotes
        return None

    def _freeze(self, entry: dict[str, Any]) -> Any:
        model = super()._freeze(entry)
        budget, paths = int(entry["epochs"]), {}
        if self.trainings is not None:
            if budget < self.max_epochs:
                paths["save_checkpoint"] = str(self.trainings.of(entry["id"]))
            if entry["id"] in self._source:
                paths["resume_from"] = str(self.trainings.of(self._source[entry["id"]]))
        model.evaluator = budget_evaluator(model.evaluator, budget, self.max_epochs, **paths)
        return model

    # ----- training checkpoints ---------------------------------------------------------
    def _initialize(self, model_space: Any, engine: Any) -> Any:
        model_space = super()._initialize(model_space, engine)
        if self.trainings is not None:
            self.trainings.prepare()
            with self._lock:
                for trial_id in list(self._source):   # a kill may have come between an end and the removal
                    if trial_id in self.archive and self.archive[trial_id].status != RUNNING:
                        self.trainings.remove(self._source[trial_id])
        return model_space

    def _end(self, trial_id: int, metric: Any, reason: str) -> None:
        with self._changed:
            was_running = trial_id in self._running
            super()._end(trial_id, metric, reason)
            if was_running and self.trainings is not None and trial_id in self._source:
                self.trainings.remove(self._source[trial_id])   # its architecture never leaves that rung again
            if self.trainings is not None and self.max_checkpoints is not None:
                self._prune_checkpoints()

    def _prune_checkpoints(self) -> None:
        """Remove checkpoints beyond ``max_checkpoints`` among those no pending job continues:
        the trials last in their rung's promotion order (by rank over the rung's size) go first."""
        in_use = {self._source[e["id"]] for e in self._pending() if e["id"] in self._source}
        spare = [i for i in self.trainings.trial_ids() if i not in in_use and i in self.archive]
        if len(spare) <= self.max_checkpoints:
            return
        by_rung: dict[int, list[TrialRecord]] = {}
        for record in self.archive.records:
            if record.status == OK:
                by_rung.setdefault(self.rung_of(record), []).append(record)
        position: dict[int, float] = {}
        for records in by_rung.values():
            position.update({records[i].id: rank / len(records) for rank, i in enumerate(ranked(records, self.objectives))})
        spare.sort(key=lambda i: (position.get(i, 1.0), i))
        for trial_id in spare[self.max_checkpoints:]:
            _logger.debug("Dropped the training checkpoint of trial %d (max_checkpoints).", trial_id)
            self.trainings.remove(trial_id)

    # ----- the run loop: one job per free worker ------------------------------------------
    def _run(self) -> None:
        self._deadline, finished = None, False
        while True:
            if self._out_of_time():
                _logger.info("The time budget of %g s is spent: stopping.", self.max_seconds)
                break
            if not self.wait_for_resource():
                _logger.info("The engine has no budget left.")
                break
            entry = self._queue[0] if self._queue else self._next_job()
            if entry is None:
                if not self._wait_one():
                    finished = True
                    break
                continue
            self._queue.remove(entry)
            self._submit(entry)
            self._raise_callback_error()
        self._wait_running()
        unfinished = [e for e in self._planned if e["id"] not in self.archive]   # e.g. interrupted: a resume trains them
        if finished and not unfinished and self.trainings is not None:   # nothing left: no checkpoint can be continued
            self.trainings.clear()
        _logger.info("Search ended: %d trials (%d epochs), %d on the top-budget frontier.", len(self.archive),
                     self.epochs_trained, len(self.frontier()))

    def _ended(self) -> int:
        return len(self.archive.with_status(OK, FAILED))

    def _wait_one(self) -> bool:
        """Wait until a trial ends after the last planning (its result may allow a promotion);
        False if none ended since and none is running."""
        with self._changed:
            while self._ended() == self._planned_at and self._callback_error is None:
                if not self._running:
                    return False
                self._changed.wait(timeout=1.0)
        self._raise_callback_error()
        return True

    # ----- state ------------------------------------------------------------------------
    def _extra_state(self) -> dict[str, Any]:
        return {name: {str(k): v for k, v in table.items()}
                for name, table in (("budget", self._budget), ("source", self._source))}

    def _load_extra_state(self, state: Mapping[str, Any]) -> None:
        self._budget, self._source = ({int(k): int(v) for k, v in state.get(name, {}).items()}
                                      for name in ("budget", "source"))

    def _remember_budgets(self, records: Sequence[TrialRecord]) -> None:
        for record in records:
            if record.epochs is not None and record.epochs in self.rungs:
                self._budget[record.id] = record.epochs
            elif record.id not in self._budget:
                self._budget[record.id] = self.rungs[0]

    def rebuild(self, records: Sequence[TrialRecord]) -> None:
        with self._lock:
            self._remember_budgets(records)
            super().rebuild(records)

    def merge(self, records: Sequence[TrialRecord]) -> None:
        with self._lock:
            self._remember_budgets(records)
            super().merge(records)
