"""The NNI trial: train one sampled architecture and report its objective vector.

Use it as ``FunctionalEvaluator(evaluate_sample, dataset="digits", epochs=2, ...)``: NNI
calls ``evaluate_sample(model, **kwargs)`` with the frozen model, in this process
(sequential engine) or in a trial process (training-service engine), so every argument is
plain JSON (no tensors; NNI refuses payloads over 64 KB).

The final result is a dict: ``'default'`` (top-1 on the evaluation split) is what NNI ranks
by, and a multi-objective strategy reads the rest from the final-metric event: ``params``
(auxiliary head excluded, as DARTS counts), ``flops`` (multiply-adds, ``count_built``),
``epochs`` (the fidelity), ``trained_epochs`` (the epochs this trial trained: fewer than ``epochs``
when it continued a checkpoint), ``seed``, ``split``, ``seconds`` and ``status``.

Checkpoints (``nas_sepconv.evaluation.checkpoint``): ``save_checkpoint=PATH`` writes the training
state after the last epoch; ``resume_from=PATH`` continues the run such a checkpoint stopped and
trains only the epochs after it (the result then has ``resumed_from``, the checkpoint's epoch). A
checkpoint that is missing, unreadable or of another run (settings, data, architecture) is not
used: the trial trains from scratch, ``resumed_from`` is 0 and ``note`` says why, so the accuracy
and ``trained_epochs`` stay true.

A diverged run (``TrainingFailed``) is reported, not raised: ``{'default': 0.0,
'status': 'failed', 'reason': ...}`` with its costs. Raising would make NNI's sequential
engine abort the whole experiment (unless ``continue_on_failure``) and, either way, only a
bare "Failed" status reaches the strategy; the training-service engine would mark the
trial failed with no metric at all. Reporting keeps the reason with the trial record.
Outside an NNI trial, ``nni.report_*`` only log (NNI's standalone channel), so the function
also runs as a plain call and returns the same dict.
"""
from __future__ import annotations

import functools
import hashlib
import time
from dataclasses import fields
from typing import Any, Mapping

import torch
from torch import nn

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.quiet import import_nni
from nas_sepconv.core.validation import check_choice, check_positive_int
from nas_sepconv.evaluation.data import DATASETS, LoadedData, load_dataset, stem_for
from nas_sepconv.evaluation.record import FAILED, OK
from nas_sepconv.evaluation.train import SPLITS, TrainConfig, TrainingFailed, split_data, train_model
from nas_sepconv.genotypes.architecture import build_architecture, is_architecture
from nas_sepconv.genotypes.cell import Genotype
from nas_sepconv.models.nni_ops import register_nni_ops
from nas_sepconv.ops import count_built

import_nni()  # before NNI loads: quiets its import-time warnings and Gym's banner
import nni  # noqa: E402

CONFIG_KEYS = frozenset(f.name for f in fields(TrainConfig))
DATA_KEYS = frozenset({"dataset", "data_dir", "train_limit", "test_limit", "split", "split_seed"})
NETWORK_KEYS = frozenset({"channels", "layers", "auxiliary", "stem"})
CHECKPOINT_KEYS = frozenset({"resume_from", "save_checkpoint"})
MAX_REASON = 500

# Trial processes import this module (the evaluator) before building the model, so NNI's
# own cell spaces can name our ops there too.
register_nni_ops()


@functools.lru_cache(maxsize=2)
def _load(dataset: str, data_dir: str | None, train_limit: int | None, test_limit: int | None) -> LoadedData:
    """Loaded data cached per process: the sequential engine runs many trials in one process."""
    return load_dataset(dataset, data_dir, train_limit=train_limit, test_limit=test_limit)


def model_cost(model: nn.Module, data: LoadedData) -> tuple[int, int]:
    """(#params without the auxiliary head, multiply-adds of one eval-mode forward pass)."""
    cost = count_built(model, data.spec.image_size, data.spec.in_channels)
    aux = getattr(model, "auxiliary_head", None)
    aux_params = sum(p.numel() for p in aux.parameters()) if isinstance(aux, nn.Module) else 0
    return cost.params - aux_params, cost.flops


def reset_parameters(model: nn.Module, seed: int) -> None:
    """Re-draw the initial weights of ``model`` from ``seed``, each part by its own init.

    NNI initialises a sampled model when it freezes it, outside our control; re-drawing
    makes a trial's result a function of its architecture and seed only. The top-most
    modules with a ``reset_parameters`` re-draw their whole subtree (a ``ResNet`` re-applies
    its Kaiming init; a layer its PyTorch default or, e.g., XSepConv's non-negative
    kernels), so a trial trains the same initial weights as ``build_*`` gives.
    """
    torch.manual_seed(seed)

    def visit(module: nn.Module) -> None:
        if callable(getattr(module, "reset_parameters", None)):
            module.reset_parameters()
            return
        for child in module.children():
            visit(child)

    visit(model)


def _as_model(sample: Any, data: LoadedData, network: dict, config: TrainConfig) -> nn.Module:
    """The model to train: a module as given, or one built from a (ResNet) genotype / NNI cell sample dict."""
    if isinstance(sample, nn.Module):
        if network:
            raise UserError(f"network settings {sorted(network)} only apply to a genotype or sample, "
                            f"got a built {type(sample).__name__}.")
        model = sample
    else:
        genotype = Genotype.from_sample(sample) if isinstance(sample, Mapping) else sample
        if not is_architecture(genotype):
            raise UserError(f"`sample_or_model` must be an nn.Module, a Genotype, a ResNetGenotype, a "
                            f"MobileNetGenotype or an NNI sample dict, got {type(sample).__name__}.")
        stem = network.pop("stem", stem_for(data.spec.name))
        model = build_architecture(genotype, num_classes=data.spec.num_classes, stem=stem,
                                   in_channels=data.spec.in_channels, drop_path=config.drop_path, **network)
    reset_parameters(model, config.seed)
    return model


def _split_params(params: dict) -> tuple[dict, dict, dict, dict]:
    known = CONFIG_KEYS | DATA_KEYS | NETWORK_KEYS | CHECKPOINT_KEYS
    unknown = set(params) - known
    if unknown:
        raise UserError(f"unknown trial parameters {sorted(unknown)}; allowed: {', '.join(sorted(known))}.")
    pick = lambda keys: {k: v for k, v in params.items() if k in keys}  # noqa: E731
    paths = pick(CHECKPOINT_KEYS)
    for name, value in paths.items():
        if value is not None and (not isinstance(value, str) or not value):
            raise UserError(f"`{name}` must be a file path (text) or None, got {value!r}.")
    return pick(CONFIG_KEYS), pick(DATA_KEYS), pick(NETWORK_KEYS), paths


def _identity(model: nn.Module, data_kw: dict) -> dict[str, Any]:
    """What a training checkpoint must match besides the settings: the built network (its module
    tree, ops included, as text: two architectures with the same weight shapes still differ) and the data."""
    return {"architecture": hashlib.sha256(repr(model).encode()).hexdigest(), "data": sorted(data_kw.items())}


def _report_epoch(epoch: int, metrics: dict) -> None:
    nni.report_intermediate_result({"default": metrics["eval_acc"], "epoch": epoch, "loss": metrics["loss"],
                                    "train_acc": metrics["train_acc"], "lr": metrics["lr"]})


def evaluate_sample(sample_or_model: Any, **params: Any) -> dict[str, Any]:
    """Train one architecture, report per-epoch and final metrics to NNI, return the final dict.

    ``params``: any ``TrainConfig`` field; ``dataset`` ('digits'), ``data_dir``,
    ``train_limit``, ``test_limit``; ``split`` ('search': weights half trains, the other
    half scores; 'test': full training part, held-out test) and ``split_seed`` (0); and,
    for a Genotype or sample, ``channels``, ``layers``, ``auxiliary``, ``stem``. A module
    is trained from scratch: its weights are re-drawn from ``seed``. ``resume_from`` and
    ``save_checkpoint``: training checkpoint paths (see the module docstring).
    """
    config_kw, data_kw, network, paths = _split_params(params)
    config = TrainConfig(**config_kw)
    split = check_choice("split", data_kw.get("split", "search"), SPLITS)
    split_seed = check_positive_int("split_seed", data_kw.get("split_seed", 0), minimum=0)
    dataset = check_choice("dataset", data_kw.get("dataset", "digits"), DATASETS)
    data_dir = data_kw.get("data_dir")
    loaded = _load(dataset, None if data_dir is None else str(data_dir),
                   data_kw.get("train_limit"), data_kw.get("test_limit"))
    model = _as_model(sample_or_model, loaded, network, config)
    identity = _identity(model, data_kw)
    params_count, flops = model_cost(model, loaded)
    result = {"params": params_count, "flops": flops, "epochs": config.epochs, "seed": config.seed, "split": split}
    start = time.perf_counter()
    try:
        trained = train_model(model, split_data(loaded, split, seed=split_seed), config, progress=_report_epoch,
                              resume_from=paths.get("resume_from"), save_to=paths.get("save_checkpoint"),
                              identity=identity)
    except TrainingFailed as failure:
        result.update(default=0.0, status=FAILED, reason=failure.reason[:MAX_REASON],
                      trained_epochs=failure.trained_epochs or config.epochs)
    else:
        result.update(default=trained.accuracy, status=OK, trained_epochs=trained.trained_epochs)
        if paths.get("resume_from") is not None:
            result["resumed_from"] = trained.start_epoch
        if trained.note:
            result["note"] = trained.note[:MAX_REASON]
    result["seconds"] = time.perf_counter() - start
    nni.report_final_result(result)
    return result
