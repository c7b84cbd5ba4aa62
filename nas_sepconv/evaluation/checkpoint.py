"""Training checkpoints: stop a run after some epochs and continue it later, number for number.

A checkpoint (``torch.save`` of plain tensors and numbers, written atomically) holds what the
next epoch of ``nas_sepconv.evaluation.train.train_model`` depends on: the model's weights and
buffers, the optimizer's state (momentum buffers), the learning-rate scheduler's, the epochs done
and their history, torch's global RNG (drop path) and the loader's two generators (data order and
augmentation). Continuing from it trains the same numbers as the uninterrupted run with the same
``schedule_epochs`` (on the CPU, bit for bit). Multi-fidelity searches use it to continue a
promoted trial instead of retraining it (Li et al., 2020, "A System for Massively Parallel
Hyperparameter Tuning").

A checkpoint also records a *fingerprint*: every training setting except ``epochs`` and the
session ones (threads, device), the data sizes and what the caller adds (the architecture, the
data set). :func:`load_training_state` refuses, with :class:`CheckpointError` and its reason, a
missing, unreadable or truncated file, another fingerprint, or more epochs than asked for; the
trainer then trains from scratch and says so, so a bad checkpoint never gives a wrong number.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from nas_sepconv.core.io import atomic_write

FORMAT = "nas-sepconv-training/1"
SESSION_FIELDS = ("epochs", "num_threads", "device")


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be continued from; ``str(err)`` says why."""


def training_fingerprint(config: Any, train_size: int, eval_size: int, identity: Mapping[str, Any] | None = None) -> dict:
    """What must be equal between the run that saved a checkpoint and the one that continues it."""
    settings = {k: v for k, v in config.to_dict().items() if k not in SESSION_FIELDS}
    settings["schedule_epochs"] = config.schedule_length
    return {"config": settings, "train_size": int(train_size), "eval_size": int(eval_size),
            "identity": {str(k): repr(v) for k, v in sorted((identity or {}).items())}}


def _rng_states(device: torch.device, generators: Sequence[torch.Generator]) -> dict[str, Any]:
    states = {"torch": torch.get_rng_state(), "generators": [g.get_state() for g in generators]}
    if device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(device)
    return states


def save_training_state(path: str | Path, *, model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
                        generators: Sequence[torch.Generator], epoch: int, history: Sequence[Mapping[str, Any]],
                        device: torch.device, fingerprint: Mapping[str, Any]) -> Path:
    """Atomically write the state after ``epoch`` epochs to ``path``; ``fingerprint``: :func:`training_fingerprint`."""
    state = {"format": FORMAT, "epoch": int(epoch), "fingerprint": dict(fingerprint),
             "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
             "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
             "rng": _rng_states(device, generators), "history": [dict(h) for h in history]}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return atomic_write(path, lambda fh: fh.write(buffer.getvalue()), binary=True)


def load_training_state(path: str | Path, fingerprint: Mapping[str, Any], epochs: int, model: nn.Module,
                        generators: int) -> dict[str, Any]:
    """The checkpoint at ``path`` if training ``model`` with ``fingerprint`` to ``epochs``
    epochs can continue from it; :class:`CheckpointError` (the reason) otherwise."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path.name}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - a truncated or foreign file raises many kinds
        raise CheckpointError(f"checkpoint {path.name} is unreadable ({type(err).__name__})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path.name} is not a training checkpoint")
    if state.get("fingerprint") != dict(fingerprint):
        saved = state.get("fingerprint") or {}
        changed = sorted(k for k in set(saved) | set(fingerprint) if saved.get(k) != fingerprint.get(k))
        raise CheckpointError(f"checkpoint {path.name} is of another run (differs in {', '.join(changed)})")
    done = state.get("epoch")
    if not isinstance(done, int) or not 1 <= done <= epochs or len(state.get("history", ())) != done:
        raise CheckpointError(f"checkpoint {path.name} has {done!r} epochs, cannot continue to {epochs}")
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if {k: tuple(v.shape) for k, v in state["model"].items()} != ours:
        raise CheckpointError(f"checkpoint {path.name} holds another model's weights")
    if len(state["rng"].get("generators", ())) != generators:
        raise CheckpointError(f"checkpoint {path.name} has no data-order state")
    return state


def restore_training_state(state: Mapping[str, Any], *, model: nn.Module, optimizer: torch.optim.Optimizer,
                           scheduler: Any, generators: Sequence[torch.Generator], device: torch.device) -> None:
    """Put a loaded checkpoint's state into freshly made model, optimizer, scheduler and generators."""
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    rng = state["rng"]
    torch.set_rng_state(rng["torch"])
    for generator, saved in zip(generators, rng["generators"]):
        generator.set_state(saved)
    if device.type == "cuda" and "cuda" in rng:
        torch.cuda.set_rng_state(rng["cuda"], device)
