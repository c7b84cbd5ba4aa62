"""Any Optuna sampler as an NNI multi-objective strategy, through Optuna's ask/tell interface.

Each space label becomes an Optuna categorical parameter (``CategoricalMultiple`` labels with
one chosen value too; values that Optuna cannot store are given by index). Parameters are
asked define-by-run: a conditional label (an op's internal, ``normal/op_2_0/osep_3x3/N``) is
asked only when its op is chosen, so the sampler sees the real tree-structured space; the
labels it was not asked take their first value in the NNI sample (the architecture ignores them).

The objectives are told in the strategy's order with Optuna directions (accuracy maximised,
costs minimised). A proposal that duplicates an ended trial is told that trial's result and
the sampler is asked again; one over ``max_params``/``max_flops`` or duplicating a running
trial is told as failed; after ``max_retries`` such asks a uniform draw is used instead, so the
search always proposes new architectures. Failed trials are told as failed.

Archive, run directory, checkpoint and resume are those of
:class:`~strategies.base.MultiObjectiveStrategy`; the study is in memory and rebuilt from the
archive when a search resumes (every ended trial added with its parameters and values), so
the sampler continues from the same history (its own random state is not saved: a resumed
search is not bit-identical to an uninterrupted one). Optuna is an optional dependency,
imported when the strategy is created: ``pip install "nas-sepconv[optuna]"``.
"""
from __future__ import annotations

import logging
from typing import Any, Mapping

from nni.mutable import Categorical, CategoricalMultiple

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.validation import check_positive_int
from nas_sepconv.evaluation.record import FAILED, OK

from .archive import TrialRecord
from .base import MultiObjectiveStrategy
from .evolution_ops import Sample, random_sample, searchable
from .surrogate import SampleEncoder

_logger = logging.getLogger(__name__)
SAMPLERS = ("tpe", "gp", "nsga2", "random")
_PLAIN = (str, int, float, bool, type(None))


def import_optuna() -> Any:
    """The ``optuna`` module, or an ImportError of one line saying how to install it."""
    try:
        import optuna
    except ImportError:
        raise ImportError('Optuna is not installed: pip install "nas-sepconv[optuna]" (or pip install optuna).') from None
    return optuna


def make_sampler(name: str, seed: int) -> Any:
    """Optuna's sampler ``name`` (tpe, gp, nsga2, random) with its defaults and ``seed``."""
    samplers = import_optuna().samplers
    factories = {"tpe": samplers.TPESampler, "gp": samplers.GPSampler, "nsga2": samplers.NSGAIISampler,
                 "random": samplers.RandomSampler}
    if name not in factories:
        raise UserError(f"`sampler` must be an optuna sampler or one of {', '.join(SAMPLERS)}, got {name!r}.")
    return factories[name](seed=seed)


class OptunaSearch(MultiObjectiveStrategy):
    """An Optuna sampler driving an NNI search (module docstring).

    Keyword-only: ``sampler`` (an ``optuna.samplers.BaseSampler``, or one of 'tpe', 'gp',
    'nsga2', 'random', made with ``seed``; default 'tpe'), ``batch_size`` (trials asked per
    round, 1; set it to the trial concurrency), and every argument of
    :class:`~strategies.base.MultiObjectiveStrategy`.
    """

    def __init__(self, *, sampler: Any = "tpe", batch_size: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        optuna = import_optuna()
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        if isinstance(sampler, str):
            sampler = make_sampler(sampler, self.seed)
        if not isinstance(sampler, optuna.samplers.BaseSampler):
            raise UserError(f"`sampler` must be an optuna sampler or one of {', '.join(SAMPLERS)}, got {sampler!r}.")
        self.sampler = sampler
        self.batch_size = check_positive_int("batch_size", batch_size)
        self._study: Any = None
        self._asked: dict[int, Any] = {}   # trial id -> Optuna trial asked for it (not after a resume)
        self._in_study: set[int] = set()   # trial ids whose result the study holds
        self._pending: list[Any] = []

    def extra_repr(self) -> str:
        return f"objectives={self.objectives}, sampler={type(self.sampler).__name__}, max_trials={self.max_trials}"

    def _initialize(self, model_space: Any, engine: Any) -> Any:
        space = super()._initialize(model_space, engine)
        optuna = import_optuna()
        simplified = self.model_space.simplify()
        self._labels = self._space_labels(simplified)
        encoder = SampleEncoder(simplified)
        self._parents = {label: encoder.parents.get(label) for label in self._labels}
        depth = lambda label: label.count("/") if self._parents[label] else -1  # noqa: E731
        self._order = sorted(self._labels, key=depth)   # a parent is asked before its children
        directions = ["maximize" if n == "accuracy" else "minimize" for n in self.objectives]
        self._study = optuna.create_study(directions=directions, sampler=self.sampler)
        self._in_study = set()
        for record in self.archive.with_status(OK, FAILED):
            self._study.add_trial(self._frozen(record))
            self._in_study.add(record.id)
        return space

    @staticmethod
    def _space_labels(space: Mapping[str, Any]) -> dict[str, tuple[list[Any], Any, bool]]:
        """label -> (NNI values, Optuna distribution, chosen as a list?) for every searchable label."""
        distributions = import_optuna().distributions
        labels = {}
        for label, mutable in searchable(space).items():
            multiple = isinstance(mutable, CategoricalMultiple)
            if multiple and getattr(mutable, "n_chosen", None) != 1:
                raise UserError(f"label `{label}` chooses several values; OptunaSearch supports one chosen value.")
            if not (multiple or isinstance(mutable, Categorical)):
                raise UserError(f"label `{label}` is a {type(mutable).__name__}; OptunaSearch supports categoricals.")
            values = list(mutable.values)
            choices = values if all(isinstance(v, _PLAIN) for v in values) else list(range(len(values)))
            labels[label] = (values, distributions.CategoricalDistribution(choices), multiple)
        return labels

    # ----- samples <-> Optuna parameters ---------------------------------------------------
    def _active(self, label: str, sample: Mapping[str, Any]) -> bool:
        parent = self._parents[label]
        return parent is None or (self._active(parent[0], sample) and _text(sample.get(parent[0])) == parent[1])

    def _value(self, label: str, choice: Any) -> Any:
        values, distribution, multiple = self._labels[label]
        value = values[distribution.choices.index(choice)]
        return [value] if multiple else value

    def _choice(self, label: str, value: Any) -> Any:
        values, distribution, _ = self._labels[label]
        if isinstance(value, list):
            value = value[0]
        return distribution.choices[values.index(value)]

    def _params(self, sample: Mapping[str, Any]) -> dict[str, Any]:
        return {label: self._choice(label, sample[label]) for label in self._order if self._active(label, sample)}

    def _ask(self) -> tuple[Any, Sample]:
        trial = self._study.ask()
        sample: Sample = {}
        for label in self._order:
            distribution = self._labels[label][1]
            choice = (trial.suggest_categorical(label, distribution.choices) if self._active(label, sample)
                      else distribution.choices[0])
            sample[label] = self._value(label, choice)
        return trial, {label: sample[label] for label in self._labels}

    def _frozen(self, record: TrialRecord) -> Any:
        optuna = import_optuna()
        params = self._params(record.sample)
        distributions = {label: self._labels[label][1] for label in params}
        if record.status == OK:
            return optuna.trial.create_trial(params=params, distributions=distributions,
                                             values=[record.objectives[n] for n in self.objectives])
        return optuna.trial.create_trial(params=params, distributions=distributions,
                                         state=optuna.trial.TrialState.FAIL)

    # ----- proposing and telling -----------------------------------------------------------
    def _propose(self, limit: int | None) -> list[Sample]:
        count = self.batch_size if limit is None else min(limit, self.batch_size)
        samples = []
        for _ in range(count):
            sample = self._new_sample()
            if sample is None:
                break
            samples.append(sample)
        return samples

    def _new_sample(self) -> Sample | None:
        """Ask until the sampler proposes a new feasible sample, telling it what each rejected one
        is; a uniform draw after ``max_retries`` asks."""
        fail = import_optuna().trial.TrialState.FAIL
        ended = {r.key: r for r in self.archive.with_status(OK)}
        for _ in range(self.max_retries):
            trial, sample = self._ask()
            key = self._key_fn(sample)
            if key not in self._taken and self.is_feasible(sample):
                self._taken.add(key)
                self._pending.append(trial)
                return sample
            if key in ended:
                self._study.tell(trial, [ended[key].objectives[n] for n in self.objectives])
            else:
                self._study.tell(trial, state=fail)
        _logger.info("The sampler proposed no new feasible sample in %d asks: a uniform draw.", self.max_retries)
        sample = self._draw_new(lambda: random_sample(self.model_space.simplify(), self._rng))
        if sample is not None:
            self._pending.append(None)
        return sample

    def _plan_generation(self) -> bool:
        self._pending: list[Any] = []
        planned = super()._plan_generation()
        if planned:
            self._asked = {e["id"]: t for e, t in zip(self._planned, self._pending) if t is not None}
        return planned

    def _end_generation(self, records: list[TrialRecord]) -> None:
        fail = import_optuna().trial.TrialState.FAIL
        for record in records:
            trial = self._asked.pop(record.id, None)
            if record.id in self._in_study:
                continue
            self._in_study.add(record.id)
            if trial is None:
                self._study.add_trial(self._frozen(record))
            elif record.status == OK:
                self._study.tell(trial, [record.objectives[n] for n in self.objectives])
            else:
                self._study.tell(trial, state=fail)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)
