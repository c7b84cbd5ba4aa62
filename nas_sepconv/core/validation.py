"""Argument checks shared by every public constructor and function.

Errors follow one shape: the argument in backticks, its value, and what is allowed,
so a user sees at once which knob to turn.
"""
from __future__ import annotations

import numbers
import os
from typing import Any, Iterable, Sequence

from nas_sepconv.core.errors import UserError


def _fail(name: str, value: Any, allowed: str) -> UserError:
    return UserError(f"`{name}` must be {allowed}, got {value!r}.")


def check_positive_int(name: str, value: Any, *, minimum: int = 1) -> int:
    """Return ``value`` as int if it is an integer >= ``minimum`` (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise _fail(name, value, f"an integer >= {minimum}")
    return int(value)


#: Sizes beyond which nothing is counted or built (a typo, not a network): channels of any
#: layer, cells of a DARTS network, depth of a CIFAR ResNet (ResNet-1202 is the deepest of
#: He et al. 2016), spatial size of an input.
MAX_CHANNELS, MAX_CELLS, MAX_RESNET_DEPTH, MAX_INPUT_SIZE = 16384, 1000, 1202, 4096
#: The most parameters of a network that is built (1e9: 4 GiB of float32 weights).
MAX_PARAMS = 1_000_000_000
#: The most bytes of forward activations of one training batch of a network that is trained
#: (``nas_sepconv.models.activations``: an estimate that errs low, counted without building).
MAX_ACTIVATION_BYTES = 64 * 2**30


#: Largest seed: NNI's and numpy's seed range is [0, 2**32 - 1].
MAX_SEED = 2**32 - 1


def check_seed(name: str, value: Any) -> int:
    """``value`` if it is an integer seed in [0, ``MAX_SEED``] (every command's ``--seed``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= value <= MAX_SEED:
        text = repr(value)
        text = text if len(text) <= 80 else f"{text[:80]}... ({len(text)} characters)"
        raise UserError(f"`{name}` must be an integer in [0, {MAX_SEED}] (NNI's and numpy's seed range), got {text}.")
    return int(value)


def check_threads(name: str, value: Any) -> int:
    """``value`` if it is a thread count from 1 to the cores of this machine (every ``--threads``)."""
    cores = os.cpu_count() or 1
    check_positive_int(name, value)
    return check_at_most(name, int(value), cores, f"the {cores} cores of this machine")


def check_at_most(name: str, value: int, limit: int, what: str = "") -> int:
    """``value`` if it is at most ``limit`` (a stated size limit, named in the error)."""
    if value > limit:
        raise UserError(f"`{name}` must be at most {limit}{' (' + what + ')' if what else ''}, got {value!r}.")
    return value


def check_positive_float(name: str, value: Any) -> float:
    """Return ``value`` as float if it is a finite real number > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (0 < float(value) < float("inf")):
        raise _fail(name, value, "a finite number > 0")
    return float(value)


def check_choice(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``allowed``."""
    allowed = list(allowed)
    if value not in allowed:
        raise _fail(name, value, "one of " + ", ".join(repr(a) for a in allowed))
    return value


def check_odd_kernel(name: str, value: Any) -> int:
    """Return ``value`` if it is a positive odd integer (kernels centred by symmetric padding)."""
    k = check_positive_int(name, value)
    if k % 2 == 0:
        raise _fail(name, value, "an odd integer >= 1")
    return k


def check_input_size(name: str, value: Any) -> tuple[int, int]:
    """Return an ``(H, W)`` pair of positive ints from an int or a pair."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value, value)
    try:
        h, w = value
    except (TypeError, ValueError):
        raise _fail(name, value, "a positive int or an (H, W) pair of positive ints") from None
    return check_positive_int(f"{name}[0]", h), check_positive_int(f"{name}[1]", w)


def check_candidates(name: str, values: Any, check: Any) -> list:
    """A search space's candidate list: a non-empty sequence of distinct values, each passing ``check``."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        raise UserError(f"`{name}` must be a non-empty list, got {values!r}.")
    if len(set(values)) != len(values):
        raise UserError(f"`{name}` must not repeat a value, got {values!r}.")
    for value in values:
        check(value)
    return list(values)
