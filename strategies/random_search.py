"""Random search with the multi-objective bookkeeping: the baseline for the other strategies.

Uniform samples (NNI's own per-mutable sampler, seeded), unique by genotype and feasible
under ``max_params``/``max_flops``, are trained in batches of ``batch_size``; every trial is
kept in :attr:`archive` and :meth:`frontier` is its Pareto front, exactly as for
:class:`~strategies.moo_evolution.MultiObjectiveEvolution`, so the two compare on equal terms.
Use it in a ``NasExperiment`` the same way (see that module's docstring).
"""
from __future__ import annotations

import logging
from typing import Any

from nas_sepconv.core.validation import check_positive_int

from .base import MultiObjectiveStrategy
from .evolution_ops import Sample, random_sample

_logger = logging.getLogger(__name__)


class MultiObjectiveRandom(MultiObjectiveStrategy):
    """Multi-objective random search.

    Keyword-only: ``batch_size`` (samples planned at a time, 8; keep it >= the trial
    concurrency so every worker is busy) and every argument of
    :class:`~strategies.base.MultiObjectiveStrategy`. It stops at ``max_trials``, at the
    engine's budget, or when no new feasible sample is found in ``max_retries`` draws.
    """

    def __init__(self, *, batch_size: int = 8, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.batch_size = check_positive_int("batch_size", batch_size)

    def extra_repr(self) -> str:
        return f"objectives={self.objectives}, max_trials={self.max_trials}, seed={self.seed}"

    def _propose(self, limit: int | None) -> list[Sample]:
        space = self.model_space.simplify()
        samples = []
        for _ in range(self.batch_size if limit is None else min(limit, self.batch_size)):
            sample = self._draw_new(lambda: random_sample(space, self._rng))
            if sample is None:
                _logger.warning("No new feasible sample after %d draws.", self.max_retries)
                break
            samples.append(sample)
        return samples
