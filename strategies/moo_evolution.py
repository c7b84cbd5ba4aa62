"""NSGA-II-style multi-objective evolution over NNI samples (accuracy up, #params down).

Deb et al. 2002 (NSGA-II): the first generation is ``population_size`` random, unique,
feasible samples; every later generation breeds ``population_size`` offspring (binary
crowded tournaments pick two parents, uniform crossover with ``crossover_probability``,
then ``mutation_labels`` labels re-drawn), trains them, and keeps the ``population_size``
best of parents + offspring by non-dominated rank, then crowding distance. Duplicates
(same genotype as any earlier or planned trial) and samples over ``max_params`` /
``max_flops`` are redrawn before a trial is spent; failed trials are recorded but never
become parents. Every trial stays in :attr:`archive`; :meth:`frontier` is its Pareto front.

Use in a NasExperiment
----------------------
::

    from nni.nas.evaluator import FunctionalEvaluator
    from nni.nas.experiment import NasExperiment, NasExperimentConfig
    from nas_sepconv.evaluation.trial import evaluate_sample
    from search_spaces import SepConvDartsSpace
    from strategies import MultiObjectiveEvolution

    space = SepConvDartsSpace(width=16, num_cells=8, stem="cifar")
    evaluator = FunctionalEvaluator(evaluate_sample, dataset="cifar10", data_dir="data", epochs=10)
    strategy = MultiObjectiveEvolution(population_size=16, generations=10, max_params=400_000,
                                       reference={"accuracy": 0.0, "params": 400_000},
                                       seed=0, checkpoint_path="results/run/strategy.json")
    config = NasExperimentConfig("sequential", "simplified", "local")   # trials in this process
    # or NasExperimentConfig("ts", "simplified", "local") with config.trial_concurrency = 4:
    # the NNI manager starts by itself and trials run as separate processes.
    config.experiment_working_directory = "results/run/nni"
    NasExperiment(space, evaluator, strategy, config).run()
    for record in strategy.frontier():          # accuracy / params / flops of each trial
        print(record.objectives, space.genotype(record.sample).to_json())

Budget: ``generations`` and/or ``max_trials`` (counted over the archive, so they survive a
resume); NNI's ``max_trial_number`` also stops the engine. To resume after a crash, run the
same script again with the same ``checkpoint_path``: finished trials are not trained again.
"""
from __future__ import annotations

import logging
import numbers
from typing import Any, Callable, Mapping

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.validation import check_positive_int
from nas_sepconv.evaluation.record import OK, TrialRecord
from nas_sepconv.frontier.objectives import senses

from .base import MultiObjectiveStrategy
from .evolution_ops import Sample, crossover, crowded_tournament, mutate, nsga2_ranking, nsga2_select, random_sample

_logger = logging.getLogger(__name__)


class MultiObjectiveEvolution(MultiObjectiveStrategy):
    """NSGA-II over an NNI model space; see the module docstring for the algorithm and usage.

    Keyword-only: ``population_size`` (8), ``generations`` (total, the random one included;
    ``None``: until ``max_trials`` or the engine's budget), ``crossover_probability`` (0.9),
    ``mutation_labels`` (labels re-drawn per child, 1), and every argument of
    :class:`~strategies.base.MultiObjectiveStrategy` (objectives, max_trials, max_params,
    max_flops, cost_fn, key_fn, reference, seed, checkpoint_path, max_retries).
    """

    def __init__(self, *, population_size: int = 8, generations: int | None = None,
                 crossover_probability: float = 0.9, mutation_labels: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.population_size = check_positive_int("population_size", population_size)
        self.generations = None if generations is None else check_positive_int("generations", generations)
        if (isinstance(crossover_probability, bool) or not isinstance(crossover_probability, numbers.Real)
                or not 0.0 <= crossover_probability <= 1.0):
            raise UserError(f"`crossover_probability` must be a number in [0, 1], got {crossover_probability!r}.")
        self.crossover_probability = float(crossover_probability)
        self.mutation_labels = check_positive_int("mutation_labels", mutation_labels)
        if self.generations is None and self.max_trials is None:
            _logger.info("Neither `generations` nor `max_trials` given: the engine's budget stops the search.")
        self._population: list[int] = []  # trial ids of the current parents

    def extra_repr(self) -> str:
        return (f"objectives={self.objectives}, population_size={self.population_size}, "
                f"generations={self.generations}, max_trials={self.max_trials}, seed={self.seed}")

    @property
    def population(self) -> list[TrialRecord]:
        """The current parents (successful trials), in NSGA-II selection order."""
        with self._lock:
            return [self.archive[i] for i in self._population]

    def _propose(self, limit: int | None) -> list[Sample]:
        if self.generations is not None and self.generation >= self.generations:
            return []
        space = self.model_space.simplify()
        count = self.population_size if limit is None else min(limit, self.population_size)
        make = self._random_maker(space) if not self._population else self._offspring_maker(space)
        samples = []
        for _ in range(count):
            sample = self._draw_new(make)
            if sample is None and self._population:  # offspring exhausted: fall back to random
                sample = self._draw_new(self._random_maker(space))
            if sample is None:
                _logger.warning("Generation %d: no new feasible sample after %d draws.", self.generation,
                                self.max_retries)
                break
            samples.append(sample)
        return samples

    def _random_maker(self, space: Mapping[str, Any]) -> Callable[[], Sample]:
        return lambda: random_sample(space, self._rng)

    def _offspring_maker(self, space: Mapping[str, Any]) -> Callable[[], Sample]:
        """Crowded-tournament parents, uniform crossover, then mutation (NSGA-II variation)."""
        parents = self.population
        ranks, crowding = nsga2_ranking(self.archive.points(parents), senses(self.objectives))

        def make() -> Sample:
            first = parents[crowded_tournament(ranks, crowding, self._rng)].sample
            child = first
            if self._rng.random_sample() < self.crossover_probability:
                second = parents[crowded_tournament(ranks, crowding, self._rng)].sample
                child = crossover(first, second, self._rng)
            return mutate(child, space, self._rng, self.mutation_labels)
        return make

    def _end_generation(self, records: list[TrialRecord]) -> None:
        candidates = self.population + [r for r in records if r.status == OK and r.id not in self._population]
        if not candidates:
            _logger.warning("Generation %d: no successful trial yet; the next one is random again.", self.generation)
            return
        chosen = nsga2_select(self.archive.points(candidates), senses(self.objectives), self.population_size)
        self._population = [candidates[i].id for i in chosen]
        _logger.info("Generation %d ended: population %s, frontier size %d.", self.generation,
                     self._population, len(self.archive.frontier()))

    def _extra_state(self) -> dict[str, Any]:
        return {"population": list(self._population)}

    def _load_extra_state(self, state: Mapping[str, Any]) -> None:
        self._population = [int(i) for i in state.get("population", [])]
