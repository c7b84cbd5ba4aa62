"""Model-based MO-ASHA: the promotions of MO-ASHA, new architectures proposed by EHVI on low-fidelity results.

:class:`~strategies.mo_asha.MultiObjectiveASHA` draws every new bottom-rung architecture
uniformly. As BOHB does for successive halving (Falkner et al., 2018, "BOHB: Robust and
Efficient Hyperparameter Optimization at Scale": the model is fitted on the largest budget with
enough results), :class:`ModelBasedASHA` proposes them with the model-based strategy's proposal
step (:class:`strategies.ehvi_proposer.EHVIProposer`: a surrogate of accuracy, the cost exact,
closed-form expected hypervolume improvement; see :mod:`strategies.model_based`), and keeps the
multi-objective promotion rule of MO-ASHA (Schmucker et al., 2021) unchanged:

- the rung used is the highest one with at least ``initial_samples`` 'ok' trials; the surrogate
  is fitted on those trials' accuracies *at that rung's budget*, and the front whose
  hypervolume improvement is scored (and whose samples the candidate pool mutates around) is
  that rung's front;
- while no rung has ``initial_samples`` 'ok' trials, and whenever the proposer finds no new
  feasible candidate, the draw is MO-ASHA's uniform one;
- a proposal is never a trial's or a planned job's architecture (the duplicate keys of
  :meth:`~strategies.mo_asha.MultiObjectiveASHA._new_sample`, and no architecture of the archive
  by its labels), so jobs planned while others run (the pool and training-service engines)
  never repeat them.

Nothing but caches is kept outside MO-ASHA's state: the surrogate is refitted from the archive
for each proposal and the proposer draws with the strategy's random state, so a resumed search
plans what an uninterrupted one would.

On the multi-fidelity tabular benchmark (``benchmarks/tabular/compare_mf.py``, seeds 0-19, rungs
1, 3, 8 epochs) its median hypervolume fraction at 172 epochs was 0.9920, against 0.9890 for
plain MO-ASHA (larger in 14 of 20 seeds, Wilcoxon p 0.04) and 0.9904 for the full-fidelity
model-based strategy at 176 epochs; at 344 epochs they were level (0.9958, 0.9960, 0.9960).
"""
from __future__ import annotations

import logging
from typing import Any

from nas_sepconv.evaluation.record import OK

from .archive import Archive
from .ehvi_proposer import EHVIProposing
from .evolution_ops import Sample
from .mo_asha import MultiObjectiveASHA

__all__ = ["ModelBasedASHA"]
_logger = logging.getLogger(__name__)


class ModelBasedASHA(EHVIProposing, MultiObjectiveASHA):
    """MO-ASHA whose new architectures are proposed by EHVI; see the module docstring.

    Keyword-only: ``initial_samples`` ('ok' trials a rung needs before its results drive the
    proposals, at least 2; 8), ``candidates`` (draws scored per proposal, 256), ``surrogate``
    ('gp' or 'forest'), and every argument of :class:`~strategies.mo_asha.MultiObjectiveASHA`.
    ``objectives`` must be accuracy and one cost (params or flops), and the cost must be
    computable (the space's ``cost`` or ``cost_fn``).
    """

    def __init__(self, *, initial_samples: int = 8, candidates: int = 256, surrogate: str = "gp",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._proposal_settings(initial_samples=initial_samples, candidates=candidates, surrogate=surrogate,
                                denoise=False, min_initial=2)

    def extra_repr(self) -> str:
        return (f"{super().extra_repr()}, surrogate={self.surrogate!r}, initial_samples={self.initial_samples}, "
                f"candidates={self.candidates}")

    def model_rung(self) -> int | None:
        """The rung whose results drive the proposals: the highest with at least
        ``initial_samples`` 'ok' trials (``None``: none has them yet)."""
        with self._lock:
            counts = [0] * len(self.rungs)
            for record in self.archive.records:
                if record.status == OK:
                    counts[self.rung_of(record)] += 1
            return next((k for k in range(len(self.rungs) - 1, -1, -1) if counts[k] >= self.initial_samples), None)

    def _new_sample(self) -> Sample | None:
        rung = self.model_rung()
        if rung is None:
            return super()._new_sample()
        records = self.archive.records
        ok = [r for r in records if r.status == OK and self.rung_of(r) == rung]
        front = [r.sample for r in Archive(self.objectives, self.archive.reference, ok).frontier()] or [
            r.sample for r in ok]
        proposed = self.proposer.propose(ok, records, 1, front=front, taken=self._taken,
                                         reference=self.archive.reference)
        if proposed:
            _logger.debug("Proposed by EHVI on the %d trials of the %d-epoch rung.", len(ok), self.rungs[rung])
            return proposed[0]
        return super()._new_sample()
