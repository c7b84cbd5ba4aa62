"""Training and evaluation of a built network: the DARTS evaluation recipe, made reproducible.

The recipe follows DARTS (Liu et al., 2019, Sec. 3.3 and its reference training script):
SGD with momentum 0.9, weight decay 3e-4, cosine annealing of the learning rate to
``lr_min`` over the epochs, gradient-norm clipping at 5, an auxiliary-head loss weighted
0.4, and drop path whose probability grows linearly, ``p * epoch / epochs``. Training
draws every random number from ``config.seed``, so on the CPU the same seed and the same
initial weights give the same accuracy exactly. A non-finite loss stops training at once
with ``TrainingFailed``, which a search records as a failed trial with its reason.
"""
from __future__ import annotations

import logging
import math
import numbers
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import torch
from torch import nn

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.threads import default_threads
from nas_sepconv.core.validation import check_choice, check_positive_int, check_seed, check_threads
from nas_sepconv.evaluation.augment import Augmentation
from nas_sepconv.evaluation.checkpoint import (
    CheckpointError,
    load_training_state,
    restore_training_state,
    save_training_state,
    training_fingerprint,
)
from nas_sepconv.evaluation.data import LoadedData, default_augmentation, loader_generators, make_loader, search_split
from nas_sepconv.evaluation.device import resolve_device

_logger = logging.getLogger(__name__)

SPLITS = ("search", "test")
Progress = Callable[[int, dict], None]


class TrainingFailed(RuntimeError):
    """Training diverged (non-finite loss); ``reason`` says where, for the trial record."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.trained_epochs: int | None = None   # epochs this call trained, the failed one included


def _check_real(name: str, value: Any, low: float, high: float = math.inf, *, high_open: bool = True) -> float:
    """Return ``value`` as float if it is a real number in ``[low, high)`` (or ``[low, high]``)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and low <= value and (value < high if high_open else value <= high)
    if not ok:
        upper = "" if high == math.inf else (f" and < {high}" if high_open else f" and <= {high}")
        raise UserError(f"`{name}` must be a finite number >= {low}{upper}, got {value!r}.")
    return float(value)


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Every knob of one training run (DARTS defaults); validated at construction.

    ``padding``/``flip`` ``None`` take the data set's default augmentation (1-pixel
    pad-crop and no flip on digits, 1/8-side pad-crop and flip otherwise); ``cutout`` 0,
    ``grad_clip`` 0 and ``drop_path`` 0 switch those off. ``num_threads`` None takes the
    project's thread rule (``nas_sepconv.core.threads``); ``device`` is auto (CUDA when
    available), cpu, cuda or cuda:N (``nas_sepconv.evaluation.device``): model, batches, BN
    recalibration and evaluation run there.
    ``schedule_epochs`` (None: ``epochs``) is the length of the learning-rate schedule and of the
    drop-path ramp: training stops after ``epochs`` of a ``schedule_epochs``-epoch run, so the
    result is that run's intermediate point after ``epochs`` epochs (what a multi-fidelity search
    trains at a lower budget; on the CPU the same seed gives the very same numbers as the longer run).
    ``auxiliary_weight`` only matters for a model that returns ``(logits, aux_logits)``.
    ``recalibrate_bn`` re-estimates BN statistics on the training images before each
    evaluation (see ``recalibrate_bn``): with NAS-sized budgets the running averages lag
    far behind the weights (measured on digits, 3 epochs: 0.10 eval accuracy without, 0.84
    with, for the same weights).
    """

    epochs: int = 10
    schedule_epochs: int | None = None
    batch_size: int = 96
    eval_batch_size: int = 256
    lr: float = 0.025
    lr_min: float = 0.0
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    cutout: int = 0
    padding: int | None = None
    flip: bool | None = None
    auxiliary_weight: float = 0.4
    drop_path: float = 0.0
    label_smoothing: float = 0.0
    seed: int = 0
    num_threads: int | None = None
    device: str = "auto"
    recalibrate_bn: bool = True

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "eval_batch_size"):
            check_positive_int(name, getattr(self, name))
        check_positive_int("cutout", self.cutout, minimum=0)
        if (self.schedule_epochs is not None
                and check_positive_int("schedule_epochs", self.schedule_epochs) < self.epochs):
            raise UserError(f"`schedule_epochs` must be >= `epochs` ({self.epochs}), got {self.schedule_epochs!r}.")
        check_seed("seed", self.seed)
        if self.padding is not None:
            check_positive_int("padding", self.padding, minimum=0)
        if self.num_threads is not None:
            check_threads("num_threads", self.num_threads)
        if not isinstance(self.recalibrate_bn, bool):
            raise UserError(f"`recalibrate_bn` must be True or False, got {self.recalibrate_bn!r}.")
        if self.flip is not None and not isinstance(self.flip, bool):
            raise UserError(f"`flip` must be True, False or None, got {self.flip!r}.")
        if _check_real("lr", self.lr, 0.0) == 0.0:
            raise UserError(f"`lr` must be a finite number > 0, got {self.lr!r}.")
        _check_real("lr_min", self.lr_min, 0.0, self.lr, high_open=False)
        _check_real("momentum", self.momentum, 0.0, 1.0)
        for name in ("weight_decay", "grad_clip", "auxiliary_weight"):
            _check_real(name, getattr(self, name), 0.0)
        _check_real("drop_path", self.drop_path, 0.0, 1.0)
        _check_real("label_smoothing", self.label_smoothing, 0.0, 1.0)
        resolve_device(self.device)

    def torch_device(self) -> torch.device:
        """The device training runs on (``auto`` resolved)."""
        return resolve_device(self.device)

    @property
    def schedule_length(self) -> int:
        """Epochs of the cosine learning-rate and drop-path schedules: ``schedule_epochs``, else ``epochs``."""
        return self.schedule_epochs or self.epochs

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict of the fields (``TrainConfig(**d)`` rebuilds it)."""
        return asdict(self)

    def augmentation(self, data: LoadedData) -> Augmentation:
        """The training augmentation: this config's switches over the data set's defaults."""
        default = default_augmentation(data.spec)
        return Augmentation(padding=default.padding if self.padding is None else self.padding,
                            flip=default.flip if self.flip is None else self.flip, cutout=self.cutout)


@dataclass(frozen=True)
class EpochRecord:
    """One epoch: mean training loss, training and evaluation top-1, learning rate, seconds."""

    epoch: int
    loss: float
    train_acc: float
    eval_acc: float
    lr: float
    drop_path: float
    seconds: float


@dataclass(frozen=True)
class TrainResult:
    """Final evaluation top-1 in [0, 1], the per-epoch history (a continued run's earlier epochs
    included) and the wall time of this call."""

    accuracy: float
    history: tuple[EpochRecord, ...]
    seconds: float
    start_epoch: int = 0   # epochs continued from a checkpoint (trained in an earlier run)
    note: str = ""         # why a checkpoint given was not used, or could not be written

    @property
    def trained_epochs(self) -> int:
        """The epochs this call trained."""
        return len(self.history) - self.start_epoch

    def to_dict(self) -> dict[str, Any]:
        return {"accuracy": self.accuracy, "seconds": self.seconds, "start_epoch": self.start_epoch,
                "note": self.note, "history": [asdict(record) for record in self.history]}


def split_data(data: LoadedData, split: str = "search", *, seed: int = 0) -> LoadedData:
    """The (train, eval) pair a run uses, as a ``LoadedData`` whose test part is the eval part.

    ``"search"``: the weights half trains and the other half of the training part evaluates
    (DARTS's search split, chosen by ``seed``), so the test part never guides a search.
    ``"test"``: the whole training part trains and the held-out test part evaluates.
    """
    check_choice("split", split, SPLITS)
    if split == "test":
        return data
    (train_x, train_y), (eval_x, eval_y) = search_split(data.train_images, data.train_labels, seed)
    return LoadedData(data.spec, train_x, train_y, eval_x, eval_y)


def _logits(output: Any) -> torch.Tensor:
    return output[0] if isinstance(output, (tuple, list)) else output


def _device_of(model: nn.Module) -> torch.device:
    return next((p.device for p in model.parameters()), torch.device("cpu"))


def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 256) -> float:
    """Top-1 accuracy in [0, 1] of ``model`` (in eval mode, no augmentation) on the tensors."""
    batch_size = check_positive_int("batch_size", batch_size)
    if len(images) != len(labels) or len(labels) == 0:
        raise UserError(f"`images` and `labels` must be non-empty and of equal length, "
                        f"got {len(images)} and {len(labels)}.")
    device, was_training, correct = _device_of(model), model.training, 0
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(labels), batch_size):
                x = images[start:start + batch_size].to(device)
                y = labels[start:start + batch_size].to(device)
                correct += int((_logits(model(x)).argmax(1) == y).sum())
    finally:
        model.train(was_training)
    return correct / len(labels)


def recalibrate_bn(model: nn.Module, batches: Iterable[torch.Tensor]) -> int:
    """Reset every BatchNorm's running statistics and re-estimate them on ``batches``.

    Train-mode forward passes without gradients or drop path; momentum ``None`` makes the
    estimate the equal-weight average of per-batch statistics. Weights are untouched and the
    model's mode is restored; returns the number of batches (0 without BatchNorm). Needed after short training
    (running averages lag the weights) and, as in SPOS (Guo et al. 2020, Sec. 3.3), for
    sub-networks that inherit supernet weights.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return 0
    saved = [(m, m.momentum) for m in norms]
    drop = getattr(model, "drop_path_prob", None)
    was_training, device, used = model.training, _device_of(model), 0
    try:
        for m in norms:
            m.reset_running_stats()
            m.momentum = None
        set_drop_path(model, 0.0)
        model.train()
        with torch.no_grad():
            for images in batches:
                model(images.to(device))
                used += 1
    finally:
        for m, momentum in saved:
            m.momentum = momentum
        if drop is not None:
            set_drop_path(model, drop)
        model.train(was_training)
    return used


def set_drop_path(model: nn.Module, prob: float) -> None:
    """Set the drop-path probability the DARTS way (attribute) and the NNI way (method)."""
    if hasattr(model, "drop_path_prob"):
        model.drop_path_prob = prob
    if callable(getattr(model, "set_drop_path_prob", None)):
        model.set_drop_path_prob(prob)


def _check_model(model: nn.Module, config: TrainConfig) -> None:
    if not isinstance(model, nn.Module):
        raise UserError(f"`model` must be a torch.nn.Module, got {type(model).__name__}.")
    supports = hasattr(model, "drop_path_prob") or callable(getattr(model, "set_drop_path_prob", None))
    if config.drop_path > 0 and not supports:
        raise UserError(f"`drop_path` needs a model with a `drop_path_prob` attribute or a "
                        f"`set_drop_path_prob` method, got {config.drop_path!r} for {type(model).__name__}.")


def _train_epoch(model: nn.Module, loader, optimizer: torch.optim.Optimizer, criterion: nn.Module,
                 config: TrainConfig, epoch: int) -> tuple[float, float]:
    """One pass over the loader; returns (mean loss, training top-1)."""
    device = config.torch_device()
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    for step, (x, y) in enumerate(loader):
        x, y = x.to(device), y.to(device)
        output = model(x)
        logits = _logits(output)
        loss = criterion(logits, y)
        if isinstance(output, (tuple, list)) and config.auxiliary_weight > 0:
            loss = loss + config.auxiliary_weight * criterion(output[1], y)
        value = float(loss.detach())
        if not math.isfinite(value):
            raise TrainingFailed(f"non-finite training loss ({value}) at epoch {epoch}, batch {step}")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        total_loss += value * len(y)
        correct += int((logits.detach().argmax(1) == y).sum())
        seen += len(y)
    return total_loss / seen, correct / seen


def train_model(model: nn.Module, data: LoadedData, config: TrainConfig, *, progress: Progress | None = None,
                resume_from: str | Path | None = None, save_to: str | Path | None = None,
                identity: Mapping[str, Any] | None = None) -> TrainResult:
    """Train ``model`` on ``data``'s training part and evaluate it on its test part.

    Pass ``split_data(data, "search")`` to score an architecture without touching the test
    set. After each epoch ``progress(epoch, metrics)`` is called (1-based epoch, metrics as
    in ``EpochRecord``; not for the epochs a checkpoint holds). Raises ``TrainingFailed`` on a
    non-finite loss.

    ``save_to``: after the last epoch, atomically write a training checkpoint there
    (``nas_sepconv.evaluation.checkpoint``). ``resume_from``: continue the run such a checkpoint
    stopped, training only its epoch + 1 to ``epochs`` (the same numbers as the uninterrupted
    run with the same ``schedule_epochs``; on the CPU bit for bit); a checkpoint that is missing,
    unreadable or of another run (settings, data sizes or ``identity``, e.g. the architecture)
    is not used: the run trains from scratch and the result's ``note`` says why.
    ``TrainResult.start_epoch`` is the epochs taken from the checkpoint.
    """
    _check_model(model, config)
    previous_threads = torch.get_num_threads()
    threads, rule = ((config.num_threads, f"{config.num_threads} torch thread(s) (num_threads)")
                     if config.num_threads is not None else default_threads(1))
    torch.set_num_threads(threads)
    _logger.info("training on %s with %s", config.torch_device(), rule)
    try:
        return _run(model, data, config, progress, resume_from, save_to, identity)
    finally:
        torch.set_num_threads(previous_threads)


def _setup(model: nn.Module, data: LoadedData, config: TrainConfig):
    """(loader, its generators, optimizer, scheduler) of a fresh run, global RNG seeded."""
    torch.manual_seed(config.seed)
    model.to(config.torch_device())
    loader = make_loader(data.train_images, data.train_labels, batch_size=config.batch_size, shuffle=True,
                         seed=config.seed, augment=config.augmentation(data))
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                                weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, config.schedule_length, eta_min=config.lr_min)
    return loader, loader_generators(loader), optimizer, scheduler


def _resume(path: str | Path, model: nn.Module, data: LoadedData, config: TrainConfig, mark: dict):
    """:func:`_setup` continued from the checkpoint at ``path``: (..., history so far, note). A checkpoint
    that cannot be used leaves a fresh run (history empty) and a note saying why."""
    initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
    loader, generators, optimizer, scheduler = _setup(model, data, config)
    try:
        state = load_training_state(path, mark, config.epochs, model, len(generators))
        restore_training_state(state, model=model, optimizer=optimizer, scheduler=scheduler, generators=generators,
                               device=config.torch_device())
    except Exception as err:  # noqa: BLE001 - any failure to restore: train from scratch, never a mix
        reason = str(err) if isinstance(err, CheckpointError) else f"restoring failed ({type(err).__name__}: {err})"
        _logger.warning("Training from scratch: %s.", reason)
        model.load_state_dict(initial)
        return (*_setup(model, data, config), [], f"trained from scratch: {reason}")
    return loader, generators, optimizer, scheduler, [EpochRecord(**h) for h in state["history"]], ""


def _run(model: nn.Module, data: LoadedData, config: TrainConfig, progress: Progress | None,
         resume_from: str | Path | None, save_to: str | Path | None, identity: Mapping[str, Any] | None) -> TrainResult:
    start = time.perf_counter()
    mark = training_fingerprint(config, len(data.train_labels), len(data.test_labels), identity)
    if resume_from is None:
        (loader, generators, optimizer, scheduler), history, note = _setup(model, data, config), [], ""
    else:
        loader, generators, optimizer, scheduler, history, note = _resume(resume_from, model, data, config, mark)
    first = len(history)
    criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    for epoch in range(first, config.epochs):
        epoch_start = time.perf_counter()
        drop = config.drop_path * epoch / config.schedule_length
        set_drop_path(model, drop)
        lr = optimizer.param_groups[0]["lr"]
        try:
            loss, train_acc = _train_epoch(model, loader, optimizer, criterion, config, epoch + 1)
        except TrainingFailed as failure:
            failure.trained_epochs = epoch + 1 - first
            raise
        scheduler.step()
        if config.recalibrate_bn:
            recalibrate_bn(model, data.train_images.split(config.eval_batch_size))
        eval_acc = evaluate(model, data.test_images, data.test_labels, config.eval_batch_size)
        record = EpochRecord(epoch + 1, loss, train_acc, eval_acc, lr, drop, time.perf_counter() - epoch_start)
        history.append(record)
        if progress is not None:
            progress(record.epoch, asdict(record))
    if save_to is not None:
        try:
            save_training_state(save_to, model=model, optimizer=optimizer, scheduler=scheduler, generators=generators,
                                epoch=config.epochs, history=[asdict(r) for r in history],
                                device=config.torch_device(), fingerprint=mark)
        except OSError as err:   # the result stands; a later run that wanted to continue trains from scratch
            _logger.warning("Training checkpoint not written: %s", err)
            note = "; ".join(filter(None, [note, f"checkpoint not written ({type(err).__name__}: {err})"]))
    return TrainResult(history[-1].eval_acc, tuple(history), time.perf_counter() - start, start_epoch=first,
                       note=note)
