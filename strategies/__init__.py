"""Multi-objective NNI strategies: every trial archived, the Pareto frontier computed.

Exports load on first use (PEP 562), so ``strategies.archive`` imports without pulling NNI
in. BlkSConv's HSA search moved to ``nas_sepconv.compress.hsa``.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Archive": ".archive", "TrialRecord": "nas_sepconv.evaluation.record", "reference_for": "nas_sepconv.frontier.pareto",
    "MultiObjectiveStrategy": ".base", "MultiObjectiveEvolution": ".moo_evolution",
    "MultiObjectiveRandom": ".random_search", "OneShotMultiObjective": ".oneshot_moo",
    "ParamsPenaltyDARTS": ".darts_penalty", "ParamsPenaltySweep": ".darts_sweep",
    "ModelBasedEHVI": ".model_based", "OptunaSearch": ".optuna_search",
    "MultiObjectiveASHA": ".mo_asha", "ModelBasedASHA": ".model_based_asha",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'strategies' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
