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
3. ``candidates`` new samples are drawn from the space (uniform draws plus mutations of one
   label the architecture uses, around the frontier's samples), each new (by the labels it
   uses) and feasible under ``max_params`` / ``max_flops`` by its exact cost, so constraints
   are never learned;
4. the candidate with the largest EHVI over the current front is proposed (the duplicate key
   and the space's ``check_contains`` are asked of the chosen one, the next best replacing it
   if refused). Retraining noise
   is handled by the GP's learned noise variance (the candidates' posterior is not fitted to
   the noise) and, with ``denoise``, by measuring the improvement over the front of the
   *posterior means* of the trials, not of their noisy accuracies (a lucky outlier does not
   stop the search near it). ``denoise`` is off by default: on seeds 0-19 of the 216-cell
   tabular benchmark the measured front gave 0.9783 / 0.9953 of the exhaustive hypervolume at
   10% / 20% of the table against 0.9724 / 0.9955 with it (median; the benchmark, like a user,
   scores the measured accuracies).

For concurrent trials (``batch_size`` > 1, e.g. the training-service engine with
``trial_concurrency`` workers) the batch is chosen greedily with the Kriging believer
(Ginsbourger et al. 2010): each chosen candidate joins the front at its predicted accuracy
before the next is scored. Archive, checkpoint/resume, failures and duplicates are those of
:class:`~strategies.base.MultiObjectiveStrategy`; the surrogate is refitted from the archive,
so a resumed search proposes what an uninterrupted one would.

Overhead (``benchmarks/strategy_overhead.py``: under 1 s per proposal at 1,000 archived trials
on the README's space): candidates are drawn by a compiled sampler, keyed and encoded by the
labels they use (a walk of the label tree, not of all labels), costed per edge by the space
(``SepConvDartsSpace.cost``) and cached by those labels; each trial is encoded once and the Gram
matrix of the trials' indicators grows by the new rows only; the GP's hyperparameter grid
reuses one kernel per length-scale pair, and its solves are triangular.
"""
from __future__ import annotations

import logging
from typing import Any, Mapping

import numpy as np
from threadpoolctl import threadpool_limits

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.validation import check_choice, check_positive_int
from nas_sepconv.evaluation.record import OK

from .archive import TrialRecord
from .base import MultiObjectiveStrategy
from .ehvi import ehvi, staircase
from .evolution_ops import Sample, UniformSampler, _other_value, mutate
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
    ``surrogate`` ('gp' or 'forest'), ``denoise`` (False), and every argument of
    :class:`~strategies.base.MultiObjectiveStrategy`. ``objectives`` must be accuracy and one
    cost (params or flops), and the cost must be computable (the space's ``cost`` or ``cost_fn``).
    """

    def __init__(self, *, initial_samples: int = 8, batch_size: int = 1, candidates: int = 256,
                 surrogate: str = "gp", denoise: bool = False, **kwargs: Any) -> None:
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
        self._described: dict[tuple[int, ...], dict[str, float]] = {}
        self._columns: dict[int, tuple[int, ...]] = {}   # trial id -> indicator columns of its sample
        self._row: dict[int, int] = {}                    # trial id -> its row of _features / _gram

    def extra_repr(self) -> str:
        return (f"objectives={self.objectives}, surrogate={self.surrogate!r}, initial_samples={self.initial_samples}, "
                f"batch_size={self.batch_size}, max_trials={self.max_trials}, seed={self.seed}")

    def _initialize(self, model_space: Any, engine: Any) -> Any:
        space = super()._initialize(model_space, engine)
        if self._cost_fn is None:
            raise UserError("`ModelBasedEHVI` needs the exact cost: pass `cost_fn`, or use a space with `cost(sample)`.")
        self._simplified = self.model_space.simplify()
        self._sampler = UniformSampler(self._simplified)
        self._encoder = SampleEncoder(self._simplified)
        self._features = np.zeros((0, self._encoder.width))
        self._gram = np.zeros((0, 0))
        return space

    # ----- proposing ----------------------------------------------------------------------
    def _propose(self, limit: int | None) -> list[Sample]:
        space = self._simplified
        count = self.batch_size if limit is None else min(limit, self.batch_size)
        records = self.archive.records
        ok = [r for r in records if r.status == OK]
        if len(records) < self.initial_samples or len(ok) < 2:
            count = min(count, max(1, self.initial_samples - len(records)))
            return [s for s in (self._draw_new(lambda: self._sampler(self._rng)) for _ in range(count))
                    if s is not None]
        self._index(records)
        pool, costs, columns = self._pool(space, ok, {self._columns[r.id] for r in records})
        if not pool:
            return []
        # one BLAS thread: the matrices are small, and 2 OpenBLAS threads on a busy machine made
        # a fit 100x slower (spinning), measured by benchmarks/strategy_overhead.py
        with threadpool_limits(1):
            return [pool[i] for i in self.choose(ok, pool, costs, count, self._encoder.rows(columns))]

    def choose(self, ok: list[TrialRecord], pool: list[Sample], costs: np.ndarray, count: int,
               features: np.ndarray | None = None) -> list[int]:
        """Indices of ``count`` candidates of ``pool`` (exact ``costs``; ``features``: their
        encoding, computed if not given) by greedy EHVI with the Kriging believer, given the
        successful trials ``ok``. A candidate whose duplicate key a trial already has, or that
        the space refuses (``check_contains``), is skipped for the next best."""
        self._index(ok)
        model = self._fit(ok)
        features = self._encoder.encode(pool) if features is None else features
        means, stds = model.predict(features, np.log(costs))
        trial_costs = np.array([r.objectives[self.cost_name] for r in ok])
        front_acc = model.fitted_means() if self.denoise else np.array([r.objectives["accuracy"] for r in ok])
        ref_acc, ref_cost = self._reference(max(costs.max(), trial_costs.max()))
        front_c, front_a = list(trial_costs), list(front_acc)
        check = getattr(self.model_space, "check_contains", lambda sample: None)
        chosen: list[int] = []
        refused = np.zeros(len(pool), dtype=bool)
        while len(chosen) < count and len(chosen) + refused.sum() < len(pool):
            breaks, levels = staircase(np.array(front_c), np.array(front_a), ref_acc, ref_cost)
            scores = ehvi(costs, means, stds, breaks, levels, ref_cost)
            scores[chosen] = -np.inf
            scores[refused] = -np.inf
            best = int(np.lexsort((-stds, -scores))[0])
            key = self._key_fn(pool[best])
            if key in self._taken or check(pool[best]) is not None:
                refused[best] = True
                continue
            self._taken.add(key)
            chosen.append(best)
            front_c.append(costs[best])
            front_a.append(means[best])
        return chosen

    def _fit(self, ok: list[TrialRecord]) -> Any:
        self._index(ok)
        rows = np.array([self._row[r.id] for r in ok], dtype=np.intp)
        features = self._features[rows]
        log_costs = np.log([r.objectives[self.cost_name] for r in ok])
        y = np.array([r.objectives["accuracy"] for r in ok])
        model = GaussianProcess() if self.surrogate == "gp" else ForestEnsemble(seed=self.seed + len(ok))
        return model.fit(features, log_costs, y, self._gram[np.ix_(rows, rows)])

    def _index(self, records: list[TrialRecord]) -> None:
        """Encode the archived trials not seen yet, once each (a trial's sample never changes):
        their indicator columns (duplicate keys), feature rows and the Gram matrix of all rows,
        grown by the new rows only, so a fit on n trials costs no n x n x width product."""
        missing = [r for r in records if r.id not in self._columns]
        if not missing:
            return
        columns = [self._encoder.columns_of(r.sample or {}) for r in missing]
        new = self._encoder.rows(columns)
        old = self._features
        cross = new @ old.T
        gram = np.empty((len(old) + len(new),) * 2)
        gram[:len(old), :len(old)] = self._gram
        gram[len(old):, :len(old)] = cross
        gram[:len(old), len(old):] = cross.T
        gram[len(old):, len(old):] = new @ new.T
        self._features, self._gram = np.vstack([old, new]), gram
        for i, (record, cols) in enumerate(zip(missing, columns)):
            self._columns[record.id] = cols
            self._row[record.id] = len(old) + i

    def _reference(self, largest_cost: float) -> tuple[float, float]:
        reference = self.archive.reference
        if reference is not None:
            values = dict(zip((o.name for o in reference.objectives), reference.values))
            return values["accuracy"], values[self.cost_name]
        return 0.0, REFERENCE_MARGIN * largest_cost

    def _pool(self, space: Mapping[str, Any], ok: list[TrialRecord],
              taken: set[tuple[int, ...]]) -> tuple[list[Sample], np.ndarray, list[tuple[int, ...]]]:
        """Up to ``candidates`` new, feasible, distinct samples: 3/4 uniform draws, 1/4 mutations
        of one *active* label of the frontier's samples (an op, an input, an internal of a used
        op); their exact costs and indicator columns. Distinct and new by their columns (equal
        columns, equal architecture); the duplicate key proper and ``check_contains`` are asked
        of the chosen candidates only (:meth:`choose`)."""
        front = [r.sample for r in self.archive.frontier()] or [r.sample for r in ok]
        keys: set[tuple[int, ...]] = set()
        pool: list[Sample] = []
        costs: list[float] = []
        columns: list[tuple[int, ...]] = []
        mutations = self.candidates // 4
        misses = 0
        for attempt in range(4 * self.candidates):
            if len(pool) >= self.candidates:
                break
            if attempt < 2 * mutations and len(pool) < mutations:
                sample = self._mutate_active(front[self._rng.randint(len(front))], space)
            else:
                sample = self._sampler(self._rng)
            cols = self._encoder.columns_of(sample)
            if cols in taken or cols in keys:
                misses += 1
                if misses >= MAX_MISSES:  # the space is nearly exhausted around here
                    break
                continue
            misses = 0
            keys.add(cols)
            cost = self._describe(sample, cols)
            if not all(cost.get(k, np.inf) <= v for k, v in self.limits.items()):
                continue
            pool.append(sample)
            costs.append(cost[self.cost_name])
            columns.append(cols)
        return pool, np.array(costs, dtype=float), columns

    def _mutate_active(self, sample: Sample, space: Mapping[str, Any]) -> Sample:
        """A copy of ``sample`` with one label it uses (by the encoder's conditions) set to
        another value; :func:`~strategies.evolution_ops.mutate` over all labels when none is."""
        active = [label for label in self._encoder.active_labels(sample) if len(getattr(space[label], "values", ())) > 1]
        if not active:
            return mutate(sample, space, self._rng, 1)
        label = active[self._rng.randint(len(active))]
        child = dict(sample)
        child[label] = _other_value(space[label], child[label], self._rng)
        return child

    def _describe(self, sample: Sample, columns: tuple[int, ...]) -> dict[str, float]:
        """Exact cost of ``sample``, cached by its indicator ``columns`` (the labels its architecture
        uses decide its cost; small spaces repeat draws often)."""
        if columns not in self._described:
            if len(self._described) >= DESCRIBE_CACHE:
                self._described.clear()
            self._described[columns] = self._cost(sample)
        return self._described[columns]
