"""Model-based multi-objective search: a surrogate of accuracy only, the cost exact, EHVI to choose.

Every peer (NSGA-II, TPE, a GP over both objectives) treats #params as a black box to learn.
Our spaces give it exactly and for free before training (``space.cost(sample)``), so this
strategy models only accuracy and scores each candidate by the closed-form expected
hypervolume improvement of a point whose cost is known and whose accuracy is Gaussian
(:mod:`strategies.ehvi`; Emmerich et al. 2006 with one exact objective):

1. the first ``initial_samples`` trials are uniform draws (unique, feasible);
2. then, for every proposal, a surrogate (:mod:`strategies.surrogate`: a GP with an overlap
   kernel on the categorical and conditional labels times an RBF on log-cost, or a random
   forest) is fitted on the successful trials;
3. ``candidates`` new samples are drawn from the space (uniform draws plus one-label
   mutations of the frontier's samples), each unique and feasible under ``max_params`` /
   ``max_flops`` by its exact cost, so constraints are never learned;
4. the candidate with the largest EHVI over the current front is proposed. Retraining noise
   is handled by the GP's learned noise variance and, with ``denoise``, by measuring the
   improvement over the front of the *posterior means* of the trials, not of their noisy
   accuracies (a lucky outlier does not stop the search near it).

For concurrent trials (``batch_size`` > 1, e.g. the training-service engine with
``trial_concurrency`` workers) the batch is chosen greedily with the Kriging believer
(Ginsbourger et al. 2010): each chosen candidate joins the front at its predicted accuracy
before the next is scored. Archive, checkpoint/resume, failures and duplicates are those of
:class:`~strategies.base.MultiObjectiveStrategy`; the surrogate is refitted from the archive,
so a resumed search proposes what an uninterrupted one would.
"""
from __future__ import annotations

import logging
from typing import Any, Mapping

import numpy as np
from threadpoolctl import threadpool_limits

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.validation import check_choice, check_positive_int
from nas_sepconv.evaluation.record import OK

from .archive import TrialRecord, sample_key
from .base import MultiObjectiveStrategy
from .ehvi import ehvi, staircase
from .evolution_ops import Sample, mutate, uniform_sample
from .surrogate import ForestEnsemble, GaussianProcess, SampleEncoder

_logger = logging.getLogger(__name__)
SURROGATES = ("gp", "forest")
DESCRIBE_CACHE = 100_000  # samples whose key and cost are remembered
MAX_MISSES = 64           # consecutive duplicate/invalid draws that end a pool
REFERENCE_MARGIN = 1.1   # no declared reference: cost reference 1.1 x the largest cost seen (the CLI's rule)


class ModelBasedEHVI(MultiObjectiveStrategy):
    """Surrogate of accuracy + exact cost + closed-form EHVI; see the module docstring.

    Keyword-only: ``initial_samples`` (uniform trials first, 8), ``batch_size`` (proposals per
    round, 1; set it to the trial concurrency), ``candidates`` (draws scored per proposal, 256),
    ``surrogate`` ('gp' or 'forest'), ``denoise`` (True), and every argument of
    :class:`~strategies.base.MultiObjectiveStrategy`. ``objectives`` must be accuracy and one
    cost (params or flops), and the cost must be computable (the space's ``cost`` or ``cost_fn``).
    """

    def __init__(self, *, initial_samples: int = 8, batch_size: int = 1, candidates: int = 256,
                 surrogate: str = "gp", denoise: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        costs = [o for o in self.objectives if o != "accuracy"]
        if len(self.objectives) != 2 or "accuracy" not in self.objectives:
            raise UserError(f"`objectives` must be accuracy and one cost (params or flops), got {self.objectives}.")
        self.cost_name = costs[0]
        self.initial_samples = check_positive_int("initial_samples", initial_samples)
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.candidates = check_positive_int("candidates", candidates)
        self.surrogate = check_choice("surrogate", surrogate, SURROGATES)
        if not isinstance(denoise, bool):
            raise UserError(f"`denoise` must be True or False, got {denoise!r}.")
        self.denoise = denoise
        self._described: dict[str, tuple[str, dict[str, float], bool]] = {}
        self._features: dict[int, np.ndarray] = {}

    def extra_repr(self) -> str:
        return (f"objectives={self.objectives}, surrogate={self.surrogate!r}, initial_samples={self.initial_samples}, "
                f"batch_size={self.batch_size}, max_trials={self.max_trials}, seed={self.seed}")

    def _initialize(self, model_space: Any, engine: Any) -> Any:
        space = super()._initialize(model_space, engine)
        if self._cost_fn is None:
            raise UserError("`ModelBasedEHVI` needs the exact cost: pass `cost_fn`, or use a space with `cost(sample)`.")
        self._encoder = SampleEncoder(self.model_space.simplify())
        return space

    # ----- proposing ----------------------------------------------------------------------
    def _propose(self, limit: int | None) -> list[Sample]:
        space = self.model_space.simplify()
        count = self.batch_size if limit is None else min(limit, self.batch_size)
        ok = self.archive.with_status(OK)
        if len(self.archive) < self.initial_samples or len(ok) < 2:
            count = min(count, max(1, self.initial_samples - len(self.archive)))
            return [s for s in (self._draw_new(lambda: uniform_sample(space, self._rng)) for _ in range(count))
                    if s is not None]
        pool, costs = self._pool(space, ok)
        if not pool:
            return []
        # one BLAS thread: the matrices are small, and 2 OpenBLAS threads on a busy machine made
        # a fit 100x slower (spinning), measured by benchmarks/strategy_overhead.py
        with threadpool_limits(1):
            return [pool[i] for i in self.choose(ok, pool, costs, count)]

    def choose(self, ok: list[TrialRecord], pool: list[Sample], costs: np.ndarray, count: int) -> list[int]:
        """Indices of ``count`` candidates of ``pool`` (exact ``costs``) by greedy EHVI with the
        Kriging believer, given the successful trials ``ok``."""
        model = self._fit(ok)
        means, stds = model.predict(self._encoder.encode(pool), np.log(costs))
        trial_costs = np.array([r.objectives[self.cost_name] for r in ok])
        if self.denoise:
            front_acc, _ = model.predict(self._trial_features(ok), np.log(trial_costs))
        else:
            front_acc = np.array([r.objectives["accuracy"] for r in ok])
        ref_acc, ref_cost = self._reference(max(costs.max(), trial_costs.max()))
        front_c, front_a = list(trial_costs), list(front_acc)
        chosen: list[int] = []
        for _ in range(min(count, len(pool))):
            breaks, levels = staircase(np.array(front_c), np.array(front_a), ref_acc, ref_cost)
            scores = ehvi(costs, means, stds, breaks, levels, ref_cost)
            scores[chosen] = -np.inf
            best = int(np.lexsort((-stds, -scores))[0])
            chosen.append(best)
            front_c.append(costs[best])
            front_a.append(means[best])
        return chosen

    def _fit(self, ok: list[TrialRecord]) -> Any:
        features = self._trial_features(ok)
        log_costs = np.log([r.objectives[self.cost_name] for r in ok])
        y = np.array([r.objectives["accuracy"] for r in ok])
        model = GaussianProcess() if self.surrogate == "gp" else ForestEnsemble(seed=self.seed + len(ok))
        return model.fit(features, log_costs, y)

    def _trial_features(self, records: list[TrialRecord]) -> np.ndarray:
        """Features of archived trials, each encoded once (a trial's sample never changes)."""
        missing = [r for r in records if r.id not in self._features]
        if missing:
            for record, row in zip(missing, self._encoder.encode([r.sample for r in missing])):
                self._features[record.id] = row
        return np.array([self._features[r.id] for r in records])

    def _reference(self, largest_cost: float) -> tuple[float, float]:
        reference = self.archive.reference
        if reference is not None:
            values = dict(zip((o.name for o in reference.objectives), reference.values))
            return values["accuracy"], values[self.cost_name]
        return 0.0, REFERENCE_MARGIN * largest_cost

    def _pool(self, space: Mapping[str, Any], ok: list[TrialRecord]) -> tuple[list[Sample], np.ndarray]:
        """Up to ``candidates`` new, feasible, distinct samples: 3/4 uniform draws, 1/4 one-label
        mutations of the frontier's samples; and their exact costs."""
        check = getattr(self.model_space, "check_contains", lambda sample: None)
        front = [r.sample for r in self.archive.frontier()] or [r.sample for r in ok]
        keys: set[str] = set()
        pool: list[Sample] = []
        costs: list[float] = []
        mutations = self.candidates // 4
        misses = 0
        for attempt in range(4 * self.candidates):
            if len(pool) >= self.candidates:
                break
            if attempt < 2 * mutations and len(pool) < mutations:
                sample = mutate(front[self._rng.randint(len(front))], space, self._rng, 1)
            else:
                sample = uniform_sample(space, self._rng)
            key, cost, invalid = self._describe(sample, check)
            if key in self._taken or key in keys or invalid:
                misses += 1
                if misses >= MAX_MISSES:  # the space is nearly exhausted around here
                    break
                continue
            misses = 0
            keys.add(key)
            if not all(cost.get(k, np.inf) <= v for k, v in self.limits.items()):
                continue
            pool.append(sample)
            costs.append(cost[self.cost_name])
        return pool, np.array(costs, dtype=float)

    def _describe(self, sample: Sample, check: Any) -> tuple[str, dict[str, float], bool]:
        """(duplicate key, exact cost, invalid?) of ``sample``, cached by its raw JSON (building a
        genotype is the expensive part of a draw, and small spaces repeat draws often)."""
        raw = sample_key(sample)
        if raw not in self._described:
            if len(self._described) >= DESCRIBE_CACHE:
                self._described.clear()
            invalid = check(sample) is not None
            self._described[raw] = ("", {}, True) if invalid else (self._key_fn(sample), self._cost(sample), False)
        return self._described[raw]
