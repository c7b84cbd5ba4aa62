"""A frontier from DARTS: one expected-#params-penalised search per penalty weight.

``ParamsPenaltySweep`` is an NNI multi-trial strategy. For each weight lambda (in order) it
runs a ``ParamsPenaltyDARTS`` search on a fresh supernet of the experiment's space, with
its own Lightning evaluator, derives the architecture DARTS exports, and submits it to the
experiment's engine, where the experiment's evaluator (e.g.
``FunctionalEvaluator(nas_sepconv.evaluation.trial.evaluate_sample, ...)``) trains it: every derived
architecture gets the same training budget. The bookkeeping is ``MultiObjectiveStrategy``'s:
each trial becomes a ``TrialRecord`` with accuracy (the trial's ``'default'``) and the exact
#params / FLOPs (``space.cost`` when planned; what the trial measured replaces them and must
agree), failed trials are kept out of the frontier, and the ``Archive`` keeps every point.
"""
from __future__ import annotations

import dataclasses
import functools
import logging
from typing import Any, Callable, Iterator, Mapping, Sequence

import torch
from nni.nas.evaluator.pytorch import Classification
from nni.nas.evaluator.pytorch.lightning import Lightning
from nni.nas.execution import SequentialExecutionEngine
from nni.nas.space import ExecutableModelSpace, RawFormatModelSpace

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.validation import check_positive_float, check_positive_int
from nas_sepconv.evaluation.data import load_dataset, make_loader
from nas_sepconv.evaluation.record import TrialRecord
from nas_sepconv.evaluation.train import split_data

from .base import MultiObjectiveStrategy
from .darts_penalty import ParamsPenaltyDARTS, check_penalty
from .evolution_ops import Sample
from .space_info import original_space

_logger = logging.getLogger(__name__)
DEFAULT_PENALTIES = (0.0, 0.1, 0.5, 1.0, 2.0)
EvaluatorFactory = Callable[[], Lightning]


def search_evaluator(dataset: str = "digits", *, data_dir: str | None = None, train_limit: int | None = None,
                     epochs: int = 1, batch_size: int = 64, learning_rate: float = 1e-3,
                     weight_decay: float = 3e-4, split_seed: int = 0, seed: int = 0) -> EvaluatorFactory:
    """A factory of DARTS search evaluators on the search split (Liu et al. 2019, Sec. 3).

    Weights train on one half of the training part, the architecture on the other half;
    the test part is never seen. A factory, because a Lightning trainer fits only once.
    """
    settings = (check_positive_int("epochs", epochs), check_positive_int("batch_size", batch_size),
                check_positive_float("learning_rate", learning_rate), check_penalty("weight_decay", weight_decay),
                check_positive_int("seed", seed, minimum=0))
    data = split_data(load_dataset(dataset, data_dir, train_limit=train_limit), "search", seed=split_seed)
    return functools.partial(_make_search_evaluator, data, *settings)


def _make_search_evaluator(data, epochs: int, batch_size: int, learning_rate: float, weight_decay: float,
                           seed: int) -> Classification:
    train = make_loader(data.train_images, data.train_labels, batch_size=batch_size, shuffle=True, seed=seed)
    val = make_loader(data.test_images, data.test_labels, batch_size=batch_size, shuffle=True, seed=seed + 2)
    return Classification(train_dataloaders=train, val_dataloaders=val, max_epochs=epochs,
                          num_classes=data.spec.num_classes, learning_rate=learning_rate,
                          weight_decay=weight_decay, export_onnx=False, enable_progress_bar=False,
                          enable_model_summary=False, enable_checkpointing=False, logger=False)


class ParamsPenaltySweep(MultiObjectiveStrategy):
    """One ``ParamsPenaltyDARTS`` search per entry of ``penalties``; the derived architectures,
    trained by the experiment's evaluator, form the frontier.

    ``search_evaluator``: a callable returning a fresh Lightning evaluator for one search
    (see ``search_evaluator()``; a Lightning trainer cannot fit twice). ``darts_kwargs`` go
    to ``ParamsPenaltyDARTS`` (e.g. ``arc_learning_rate``). Generation ``g`` searches with
    ``penalties[g]`` and trains its one derived architecture as trial ``g`` (its record's
    ``extra['penalty']``); every search starts from ``seed`` alike (arch logits, supernet
    weights), so they differ only by lambda. ``objectives``, ``reference``, ``seed`` and
    ``checkpoint_path`` are those of ``MultiObjectiveStrategy`` (a resumed sweep neither
    searches nor trains again what it finished). Two penalties may derive the same
    architecture: it is trained again, so every lambda has its point.
    """

    def __init__(self, search_evaluator: EvaluatorFactory, *, penalties: Sequence[float] = DEFAULT_PENALTIES,
                 darts_kwargs: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        allowed = ("objectives", "reference", "seed", "checkpoint_path", "checkpoint_meta", "max_seconds")
        unknown = set(kwargs) - set(allowed)
        if unknown:
            raise UserError(f"`{sorted(unknown)[0]}` is not an argument of ParamsPenaltySweep; allowed: "
                            f"penalties, darts_kwargs, {', '.join(allowed)}.")
        super().__init__(**kwargs)
        if not callable(search_evaluator):
            raise UserError(f"`search_evaluator` must be a callable returning a Lightning evaluator, "
                            f"got {search_evaluator!r}.")
        if isinstance(penalties, (str, bytes)) or not isinstance(penalties, Sequence) or not penalties:
            raise UserError(f"`penalties` must be a non-empty list of numbers >= 0, got {penalties!r}.")
        self.search_evaluator = search_evaluator
        self.penalties = tuple(check_penalty(f"penalties[{i}]", p) for i, p in enumerate(penalties))
        self.darts_kwargs = dict(darts_kwargs or {})
        self._space: Any = None

    def extra_repr(self) -> str:
        return f"penalties={list(self.penalties)}, seed={self.seed}"

    def _initialize(self, model_space: ExecutableModelSpace, engine: Any) -> ExecutableModelSpace:
        self._space = original_space(model_space)
        if self._space is None or not hasattr(self._space, "cost"):
            raise UserError("`model_space` must be a SepConvDartsSpace (a space with `cost` and `genotype`).")
        return super()._initialize(model_space, engine)

    def _propose(self, limit: int | None) -> list[Sample]:
        if self.generation >= len(self.penalties):
            return []
        return [self.derive(self.penalties[self.generation])]

    def _end_generation(self, records: list[TrialRecord]) -> None:
        for record in records:
            penalty = self.penalties[record.generation]
            self.archive.add(dataclasses.replace(record, extra={**record.extra, "penalty": penalty}))

    def derive(self, penalty: float) -> Sample:
        """Run one penalised DARTS search on a fresh supernet; return the exported sample."""
        torch.manual_seed(self.seed)
        space = type(self._space)(*self._space.trace_args, **self._space.trace_kwargs)
        strategy = ParamsPenaltyDARTS(penalty=penalty, **self.darts_kwargs)
        strategy(RawFormatModelSpace(space, self.search_evaluator()), SequentialExecutionEngine())
        sample = dict(next(strategy.list_models()).sample)
        _logger.info("Penalty %g derived %d params.", penalty, self._space.cost(sample).params)
        return sample

    def list_models(self, sort: bool = True, limit: int | None = None) -> Iterator[ExecutableModelSpace]:
        """Frozen frontier models, most accurate first (what ``export_top_models`` returns);
        ``sort=False``: every trained architecture, in penalty order."""
        records = sorted(self.frontier(), key=lambda r: -r.objectives["accuracy"]) if sort else self.archive.records
        for record in records[:limit]:
            yield self.model_space.freeze(record.sample)
