"""The proposal step of the model-based strategies: surrogate of accuracy, exact cost, closed-form EHVI.

:class:`EHVIProposer` is what :class:`~strategies.model_based.ModelBasedEHVI` proposes with, and
what :class:`~strategies.model_based_asha.ModelBasedASHA` draws its new architectures with. It
owns no trials: its owner hands it the records to fit (:meth:`EHVIProposer.propose`), the samples
of the front to mutate around, the reference point and the set of duplicate keys already taken,
and at construction the duplicate key function, the exact cost, the limits, the space's check and
the owner's random state (so the owner's checkpoint of that state covers the proposer's draws).

What it keeps is overhead work only, a function of the records it was shown, so a refitted owner
proposes what an uninterrupted one would: each trial's indicator columns and feature row (encoded
once: a trial's sample never changes), the Gram matrix of those rows (grown by the new rows only)
and the exact costs of drawn samples (cached by the labels they use).
"""
from __future__ import annotations

from typing import Any, Callable, Collection, Mapping, Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.validation import check_choice, check_positive_int
from nas_sepconv.evaluation.record import TrialRecord
from nas_sepconv.frontier.pareto import ReferencePoint

from .ehvi import ehvi, staircase
from .evolution_ops import Sample, UniformSampler, _other_value, mutate
from .surrogate import ForestEnsemble, GaussianProcess, SampleEncoder

SURROGATES = ("gp", "forest")
DESCRIBE_CACHE = 100_000  # samples whose key and cost are remembered
MAX_MISSES = 64           # consecutive duplicate/invalid draws that end a pool
REFERENCE_MARGIN = 1.1   # no declared reference: cost reference 1.1 x the largest cost seen (the CLI's rule)


def check_proposer_settings(candidates: int, surrogate: str, denoise: bool) -> tuple[int, str, bool]:
    """The validated ``candidates``, ``surrogate`` and ``denoise`` (a :class:`UserError` naming the bad one)."""
    candidates = check_positive_int("candidates", candidates)
    surrogate = check_choice("surrogate", surrogate, SURROGATES)
    if not isinstance(denoise, bool):
        raise UserError(f"`denoise` must be True or False, got {denoise!r}.")
    return candidates, surrogate, denoise


def cost_objective(objectives: Sequence[str]) -> str:
    """The one cost of ``objectives`` (accuracy and params or flops), or a :class:`UserError`."""
    if len(objectives) != 2 or "accuracy" not in objectives:
        raise UserError(f"`objectives` must be accuracy and one cost (params or flops), got {objectives}.")
    return next(o for o in objectives if o != "accuracy")


class EHVIProposer:
    """Proposes new samples of a simplified ``space`` by greedy EHVI; see the module docstring.

    ``cost_name``: the cost objective ('params' or 'flops'); ``key_fn``: a sample's duplicate key;
    ``cost``: a sample's exact costs (a dict with ``cost_name``); ``limits``: upper bounds on
    costs (``max_params``/``max_flops``); ``check``: the space's ``check_contains`` (None: a
    valid sample); ``rng``: the owner's ``RandomState``; ``seed``: the forest's base seed.
    """

    def __init__(self, space: Mapping[str, Any], *, cost_name: str, key_fn: Callable[[Sample], str],
                 cost: Callable[[Sample], Mapping[str, float]], limits: Mapping[str, float],
                 check: Callable[[Sample], Any], rng: np.random.RandomState, candidates: int = 256,
                 surrogate: str = "gp", denoise: bool = False, seed: int = 0) -> None:
        self.space = space
        self.cost_name = cost_name
        self.key_fn, self.cost, self.limits, self.check, self.rng = key_fn, cost, dict(limits), check, rng
        self.candidates, self.surrogate, self.denoise = check_proposer_settings(candidates, surrogate, denoise)
        self.seed = seed
        self.sampler = UniformSampler(space)
        self.encoder = SampleEncoder(space)
        self.features = np.zeros((0, self.encoder.width))
        self.gram = np.zeros((0, 0))
        self.columns: dict[int, tuple[int, ...]] = {}   # trial id -> indicator columns of its sample
        self.row: dict[int, int] = {}                    # trial id -> its row of features / gram
        self._described: dict[tuple[int, ...], dict[str, float]] = {}

    def draw(self) -> Sample:
        """A uniform draw of the space (the compiled sampler, the owner's random state)."""
        return self.sampler(self.rng)

    def propose(self, ok: list[TrialRecord], records: Sequence[TrialRecord], count: int, *,
                front: Sequence[Sample], taken: set[str], reference: ReferencePoint | None) -> list[Sample]:
        """Up to ``count`` new samples chosen by greedy EHVI over the successful trials ``ok``
        (fitted on their accuracies; the front is theirs). ``records``: every trial whose
        architecture must not be proposed again (by its labels); ``front``: the samples the pool's
        mutations start from; ``taken``: the duplicate keys already used (each chosen one is added);
        ``reference``: the declared reference point (None: accuracy 0 and 1.1 x the largest cost)."""
        self.index(records)
        pool, costs, columns = self.pool(front, {self.columns[r.id] for r in records})
        if not pool:
            return []
        # one BLAS thread: the matrices are small, and 2 OpenBLAS threads on a busy machine made
        # a fit 100x slower (spinning), measured by benchmarks/strategy_overhead.py
        with threadpool_limits(1):
            return [pool[i] for i in self.choose(ok, pool, costs, count, taken=taken, reference=reference,
                                                 features=self.encoder.rows(columns))]

    def choose(self, ok: list[TrialRecord], pool: list[Sample], costs: np.ndarray, count: int, *,
               taken: set[str], reference: ReferencePoint | None, features: np.ndarray | None = None) -> list[int]:
        """Indices of ``count`` candidates of ``pool`` (exact ``costs``; ``features``: their
        encoding, computed if not given) by greedy EHVI with the Kriging believer, given the
        successful trials ``ok``. A candidate whose duplicate key is in ``taken``, or that the
        space refuses (``check``), is skipped for the next best; the chosen keys join ``taken``."""
        self.index(ok)
        model = self.fit(ok)
        features = self.encoder.encode(pool) if features is None else features
        means, stds = model.predict(features, np.log(costs))
        trial_costs = np.array([r.objectives[self.cost_name] for r in ok])
        front_acc = model.fitted_means() if self.denoise else np.array([r.objectives["accuracy"] for r in ok])
        ref_acc, ref_cost = self.reference(reference, max(costs.max(), trial_costs.max()))
        front_c, front_a = list(trial_costs), list(front_acc)
        chosen: list[int] = []
        refused = np.zeros(len(pool), dtype=bool)
        while len(chosen) < count and len(chosen) + refused.sum() < len(pool):
            breaks, levels = staircase(np.array(front_c), np.array(front_a), ref_acc, ref_cost)
            scores = ehvi(costs, means, stds, breaks, levels, ref_cost)
            scores[chosen] = -np.inf
            scores[refused] = -np.inf
            best = int(np.lexsort((-stds, -scores))[0])
            key = self.key_fn(pool[best])
            if key in taken or self.check(pool[best]) is not None:
                refused[best] = True
                continue
            taken.add(key)
            chosen.append(best)
            front_c.append(costs[best])
            front_a.append(means[best])
        return chosen

    def fit(self, ok: list[TrialRecord]) -> Any:
        """The surrogate fitted on the accuracies of ``ok`` (features, log-cost)."""
        self.index(ok)
        rows = np.array([self.row[r.id] for r in ok], dtype=np.intp)
        features = self.features[rows]
        log_costs = np.log([r.objectives[self.cost_name] for r in ok])
        y = np.array([r.objectives["accuracy"] for r in ok])
        model = GaussianProcess() if self.surrogate == "gp" else ForestEnsemble(seed=self.seed + len(ok))
        return model.fit(features, log_costs, y, self.gram[np.ix_(rows, rows)])

    def index(self, records: Collection[TrialRecord]) -> None:
        """Encode the trials not seen yet, once each (a trial's sample never changes): their
        indicator columns (duplicate keys), feature rows and the Gram matrix of all rows, grown
        by the new rows only, so a fit on n trials costs no n x n x width product."""
        missing = [r for r in records if r.id not in self.columns]
        if not missing:
            return
        columns = [self.encoder.columns_of(r.sample or {}) for r in missing]
        new = self.encoder.rows(columns)
        old = self.features
        cross = new @ old.T
        gram = np.empty((len(old) + len(new),) * 2)
        gram[:len(old), :len(old)] = self.gram
        gram[len(old):, :len(old)] = cross
        gram[:len(old), len(old):] = cross.T
        gram[len(old):, len(old):] = new @ new.T
        self.features, self.gram = np.vstack([old, new]), gram
        for i, (record, cols) in enumerate(zip(missing, columns)):
            self.columns[record.id] = cols
            self.row[record.id] = len(old) + i

    def reference(self, reference: ReferencePoint | None, largest_cost: float) -> tuple[float, float]:
        """(accuracy, cost) of the reference point: the declared one, else 0 and 1.1 x ``largest_cost``."""
        if reference is not None:
            values = dict(zip((o.name for o in reference.objectives), reference.values))
            return values["accuracy"], values[self.cost_name]
        return 0.0, REFERENCE_MARGIN * largest_cost

    def pool(self, front: Sequence[Sample],
             taken: set[tuple[int, ...]]) -> tuple[list[Sample], np.ndarray, list[tuple[int, ...]]]:
        """Up to ``candidates`` new, feasible, distinct samples: 3/4 uniform draws, 1/4 mutations
        of one *active* label of the ``front``'s samples (an op, an input, an internal of a used
        op); their exact costs and indicator columns. Distinct and new (not in ``taken``) by their
        columns (equal columns, equal architecture); the duplicate key proper and the space's
        check are asked of the chosen candidates only (:meth:`choose`)."""
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
                sample = self.mutate_active(front[self.rng.randint(len(front))])
            else:
                sample = self.sampler(self.rng)
            cols = self.encoder.columns_of(sample)
            if cols in taken or cols in keys:
                misses += 1
                if misses >= MAX_MISSES:  # the space is nearly exhausted around here
                    break
                continue
            misses = 0
            keys.add(cols)
            cost = self.describe(sample, cols)
            if not all(cost.get(k, np.inf) <= v for k, v in self.limits.items()):
                continue
            pool.append(sample)
            costs.append(cost[self.cost_name])
            columns.append(cols)
        return pool, np.array(costs, dtype=float), columns

    def mutate_active(self, sample: Sample) -> Sample:
        """A copy of ``sample`` with one label it uses (by the encoder's conditions) set to
        another value; :func:`~strategies.evolution_ops.mutate` over all labels when none is."""
        space = self.space
        active = [label for label in self.encoder.active_labels(sample) if len(getattr(space[label], "values", ())) > 1]
        if not active:
            return mutate(sample, space, self.rng, 1)
        label = active[self.rng.randint(len(active))]
        child = dict(sample)
        child[label] = _other_value(space[label], child[label], self.rng)
        return child

    def describe(self, sample: Sample, columns: tuple[int, ...]) -> dict[str, float]:
        """Exact cost of ``sample``, cached by its indicator ``columns`` (the labels its architecture
        uses decide its cost; small spaces repeat draws often)."""
        if columns not in self._described:
            if len(self._described) >= DESCRIBE_CACHE:
                self._described.clear()
            self._described[columns] = self.cost(sample)
        return self._described[columns]


def strategy_proposer(strategy: Any, *, candidates: int, surrogate: str, denoise: bool = False) -> EHVIProposer:
    """The proposer of an initialised ``MultiObjectiveStrategy`` (its space, key, exact cost,
    limits, random state and seed); refuses a strategy whose space gives no exact cost."""
    if strategy._cost_fn is None:
        raise UserError(f"`{type(strategy).__name__}` needs the exact cost: pass `cost_fn`, or use a space with "
                        "`cost(sample)`.")
    space = strategy.model_space
    return EHVIProposer(space.simplify(), cost_name=strategy.cost_name, key_fn=strategy._key_fn, cost=strategy._cost,
                        limits=strategy.limits, check=getattr(space, "check_contains", lambda sample: None),
                        rng=strategy._rng, candidates=candidates, surrogate=surrogate, denoise=denoise,
                        seed=strategy.seed)


class EHVIProposing:
    """What the model-based strategies share, mixed in before their strategy base class
    (:class:`~strategies.model_based.ModelBasedEHVI`, :class:`~strategies.model_based_asha.ModelBasedASHA`):
    the proposal settings, validated at construction (:meth:`_proposal_settings`), and the
    :class:`EHVIProposer`, built by ``_initialize`` once the space is known."""

    proposer: EHVIProposer | None = None

    def _proposal_settings(self, *, initial_samples: int, candidates: int, surrogate: str, denoise: bool,
                           min_initial: int = 1) -> None:
        """Set ``cost_name``, ``initial_samples`` (at least ``min_initial``), ``candidates``,
        ``surrogate`` and ``denoise``, each validated (a :class:`UserError` names the bad one)."""
        self.cost_name = cost_objective(self.objectives)
        self.initial_samples = check_positive_int("initial_samples", initial_samples, minimum=min_initial)
        self.candidates, self.surrogate, self.denoise = check_proposer_settings(candidates, surrogate, denoise)

    def _initialize(self, model_space: Any, engine: Any) -> Any:
        space = super()._initialize(model_space, engine)
        self.proposer = strategy_proposer(self, candidates=self.candidates, surrogate=self.surrogate,
                                          denoise=self.denoise)
        return space
