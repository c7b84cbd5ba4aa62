"""The objectives a search can optimise, each with its direction: defined here once.

``accuracy`` is maximised; ``params`` and ``flops`` (multiply-accumulates) are minimised. Every
other module (strategies, run files, reports, the CLI) takes the names and directions from here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.validation import check_choice

DIRECTIONS = ("max", "min")
#: Every objective name -> its direction.
OBJECTIVES = {"accuracy": "max", "params": "min", "flops": "min"}
#: What a search optimises unless told otherwise: the accuracy-vs-#params plane.
DEFAULT_OBJECTIVES = ("accuracy", "params")


@dataclass(frozen=True)
class Objective:
    """A named objective and whether it is maximised ("max") or minimised ("min")."""

    name: str
    direction: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise UserError(f"`name` must be a non-empty string, got {self.name!r}.")
        check_choice("direction", self.direction, DIRECTIONS)


def check_objectives(objectives: str | Sequence[str], *, require_accuracy: bool = False) -> tuple[str, ...]:
    """Distinct names among ``OBJECTIVES`` (with ``accuracy`` among them if required)."""
    names = (objectives,) if isinstance(objectives, str) else tuple(objectives)
    bad = (not names or len(set(names)) != len(names) or any(not isinstance(n, str) or n not in OBJECTIVES
                                                           for n in names))
    if bad or (require_accuracy and "accuracy" not in names):
        need = " including accuracy" if require_accuracy else ""
        raise UserError(f"`objectives` must be distinct names among {', '.join(OBJECTIVES)}{need}, "
                        f"got {objectives!r}.")
    return names


def senses(objectives: str | Sequence[str]) -> tuple[Objective, ...]:
    """The :class:`Objective` (name and direction) of each name in ``objectives``."""
    return tuple(Objective(name, OBJECTIVES[name]) for name in check_objectives(objectives))


#: The plane every frontier figure shows.
PLANE = senses(DEFAULT_OBJECTIVES)
