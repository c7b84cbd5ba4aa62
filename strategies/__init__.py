"""Multi-objective NNI strategies: every trial archived, the Pareto frontier computed."""
from .archive import Archive, TrialRecord, reference_for
from .base import MultiObjectiveStrategy
from .moo_evolution import MultiObjectiveEvolution
from .random_search import MultiObjectiveRandom
from .oneshot_moo import OneShotMultiObjective
from .darts_penalty import ParamsPenaltyDARTS
from .darts_sweep import ParamsPenaltySweep

__all__ = ["Archive", "TrialRecord", "reference_for", "MultiObjectiveStrategy", "MultiObjectiveEvolution",
           "MultiObjectiveRandom", "OneShotMultiObjective", "ParamsPenaltyDARTS", "ParamsPenaltySweep"]
