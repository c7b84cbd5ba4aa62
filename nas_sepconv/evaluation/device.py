"""The device a command trains on: ``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N``.

On NNI's training-service engine each trial process sees only the GPUs NNI assigned it
(``CUDA_VISIBLE_DEVICES``), so ``auto`` or ``cuda`` there is the trial's own GPU (``cuda:0``
of what it sees); a trial given no GPU sees none and ``auto`` trains on the CPU.
"""
from __future__ import annotations

import re

import torch

from nas_sepconv.core.errors import UserError

DEVICES = ("auto", "cpu", "cuda", "cuda:N")
_CUDA_N = re.compile(r"cuda:(\d+)")


def check_device(spec: object, name: str = "device") -> str:
    """``spec`` if it is one of ``DEVICES`` (``cuda:N`` with a number), else a ValueError."""
    if not isinstance(spec, str) or not (spec in ("auto", "cpu", "cuda") or _CUDA_N.fullmatch(spec)):
        raise UserError(f"`{name}` must be auto, cpu, cuda or cuda:N, got {spec!r}.")
    return spec


def resolve_device(spec: str, name: str = "device") -> torch.device:
    """The torch device of ``spec``; asking for a GPU that is not there is a one-line ValueError."""
    spec = check_device(spec, name)
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    index = int(spec.partition(":")[2] or 0)
    if index >= count:
        seen = "no CUDA device is visible" if count == 0 else f"only {count} CUDA device(s) are visible"
        raise UserError(f"`{name}` {spec} is not available: {seen} (torch {torch.__version__}, CUDA build "
                         f"{torch.version.cuda or 'none'}); use --device cpu or auto.")
    return torch.device(spec)
