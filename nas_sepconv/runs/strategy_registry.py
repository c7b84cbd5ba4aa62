"""The strategy registry: every ``--strategy`` of a search is looked up by name and built the same way.

Like the op registry (``nas_sepconv.ops``: ``list_ops``, ``op_set``), it is the one list that
others query: ``SearchConfig`` checks a strategy's name, settings and space against it, the
main job builds the strategy with it, ``search --help`` lists it, and ``restore`` asks it which
runs record trials below the top budget. One ``register_strategy`` per name below holds
everything its callers need:

* ``build(config, common, concurrency, settings)``: the strategy, from the ``SearchConfig``, the
  keyword arguments every ``MultiObjectiveStrategy`` takes (``common``: objectives, max_trials,
  max_params, max_flops, reference, seed, checkpoint_path, checkpoint_meta, max_seconds), the
  trials at a time and the run's ``strategy_settings``;
* ``settings``: the keys of ``strategy_settings`` it accepts: its constructor's keyword
  arguments less ``common``, the space's ``cost_fn``/``key_fn`` and those the builder sets from
  the config (``fixed``); for every builder that passes them on to the constructor, a test
  derives them from its signature (reading it here would import NNI whenever a config is checked);
* ``kind``: ``sampling`` (trials at the full budget), ``one-shot`` (weight sharing derives the
  architectures; the cell space only) or ``multi-fidelity`` (trials at budgets up to ``epochs``);
* ``needs``/``missing``: an optional module it needs and the line that says how to install it;
* ``description``: one line for ``search --help``.

The builders import ``strategies`` (and so NNI) only when a strategy is built.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.validation import check_choice

if TYPE_CHECKING:
    from nas_sepconv.runs.config import SearchConfig

SAMPLING, ONE_SHOT, MULTI_FIDELITY = "sampling", "one-shot", "multi-fidelity"
KINDS = (SAMPLING, ONE_SHOT, MULTI_FIDELITY)
Builder = Callable[["SearchConfig", dict, int, dict], Any]


@dataclass(frozen=True)
class StrategySpec:
    """One registry entry; see the module docstring.

    ``cls`` is the class of ``strategies`` it builds (``record_search`` checks a config's
    strategy against the strategy that ran); ``partial_epochs`` says its ``trials.csv`` may hold
    trials at fewer epochs than ``epochs`` (rungs, or one-shot scores at 0); ``fixed_internals``,
    when set, says why it keeps every op's default internals (the space then searches none, and
    ``internals`` is refused); ``check(config)`` refuses what only this strategy cannot take,
    before a run directory exists.
    """

    name: str
    build: Builder
    settings: tuple[str, ...]
    kind: str
    description: str
    cls: str
    fixed: tuple[str, ...] = ()
    needs: str | None = None
    missing: str = ""
    partial_epochs: bool = False
    fixed_internals: str | None = None
    check: Callable[["SearchConfig"], None] | None = None

    @property
    def available(self) -> bool:
        """Whether its optional module (``needs``) is installed."""
        return self.needs is None or importlib.util.find_spec(self.needs) is not None


_REGISTRY: dict[str, StrategySpec] = {}


def register_strategy(name: str, **fields: Any) -> Callable[[Builder], Builder]:
    """Decorator: register the decorated builder as strategy ``name`` with the ``StrategySpec`` fields."""
    def decorate(build: Builder) -> Builder:
        if name in _REGISTRY:
            raise ValueError(f"strategy {name!r} is registered twice")
        spec = StrategySpec(name, build, **fields)
        check_choice("kind", spec.kind, KINDS)
        _REGISTRY[name] = spec
        return build
    return decorate


def list_strategies(kind: str | None = None, *, available: bool = True) -> tuple[str, ...]:
    """Registered names in registration order, of one ``kind`` if given; with ``available`` only
    those whose optional module is installed."""
    if kind is not None:
        check_choice("kind", kind, KINDS)
    return tuple(name for name, spec in _REGISTRY.items()
                 if (kind is None or spec.kind == kind) and (not available or spec.available))


def find_strategy(name: Any) -> StrategySpec | None:
    """The entry of ``name``, None for a name not registered (e.g. read from a file)."""
    return _REGISTRY.get(name) if isinstance(name, str) else None


def get_strategy(name: str) -> StrategySpec:
    """The entry of ``name``; an unknown name, or one whose optional module is missing, is a UserError."""
    spec = find_strategy(name)
    if spec is not None and not spec.available:
        raise UserError(f"`strategy` {name!r} {spec.missing}.")
    check_choice("strategy", name, list_strategies())
    return spec


def strategies_of_class(cls: str) -> tuple[str, ...]:
    """The names whose builder makes an instance of ``strategies.<cls>``."""
    return tuple(name for name, spec in _REGISTRY.items() if spec.cls == cls)


def _strategy(cls: str) -> Any:
    import strategies  # NNI loads only when a strategy is built

    return getattr(strategies, cls)


@register_strategy("evolution", kind=SAMPLING, cls="MultiObjectiveEvolution", fixed=("population_size",),
                   settings=("crossover_probability", "mutation_labels", "generations", "max_retries"),
                   description="NSGA-II evolution of --population")
def _evolution(config, common, concurrency, settings):
    return _strategy("MultiObjectiveEvolution")(population_size=config.population, **common, **settings)


@register_strategy("random", kind=SAMPLING, cls="MultiObjectiveRandom", settings=("batch_size", "max_retries"),
                   description="uniform random samples")
def _random(config, common, concurrency, settings):
    return _strategy("MultiObjectiveRandom")(**{"batch_size": max(8, concurrency), **common, **settings})


def _check_model_based(config: SearchConfig) -> None:
    if len(config.objectives) != 2:
        raise UserError(f"`objectives` must be accuracy and one cost (params or flops) for `strategy` "
                        f"{config.strategy!r}, got {', '.join(config.objectives)}; choose another `strategy`, "
                        f"e.g. evolution (NSGA-II).")


@register_strategy("model-based", kind=SAMPLING, cls="ModelBasedEHVI", fixed=("batch_size",),
                   settings=("initial_samples", "candidates", "surrogate", "denoise", "max_retries"),
                   description="expected hypervolume improvement over a surrogate of accuracy and the exact #params",
                   check=_check_model_based)
def _model_based(config, common, concurrency, settings):
    return _strategy("ModelBasedEHVI")(batch_size=concurrency, **common, **settings)


def _check_rungs(config: SearchConfig) -> None:
    from strategies.mo_asha import ETA, MIN_EPOCHS, rung_budgets

    settings = config.strategy_settings
    rung_budgets(settings.get("min_epochs", MIN_EPOCHS), config.epochs, settings.get("eta", ETA))


def _check_model_based_rungs(config: SearchConfig) -> None:
    _check_model_based(config)
    _check_rungs(config)


ASHA_SETTINGS = ("min_epochs", "eta", "epoch_budget", "max_retries", "continue_training", "max_checkpoints")   # the top budget: `epochs`


def _asha(cls: str) -> Builder:
    def build(config, common, concurrency, settings):
        """Promotions continue their training (checkpoints in the run directory's ``trainings/``)
        unless ``continue_training`` is false."""
        from nas_sepconv.runs.run_dir import TRAININGS

        continued = settings.pop("continue_training", True)
        if not isinstance(continued, bool):
            raise UserError(f"`continue_training` must be true or false, got {continued!r}.")
        checkpoint = common["checkpoint_path"]
        folder = checkpoint.parent / TRAININGS if continued and checkpoint is not None else None
        return _strategy(cls)(max_epochs=config.epochs, checkpoint_dir=folder, **common, **settings)
    return build


register_strategy("mo-asha", kind=MULTI_FIDELITY, cls="MultiObjectiveASHA", fixed=("max_epochs", "checkpoint_dir"),
                  settings=ASHA_SETTINGS,
                  description="multi-objective asynchronous successive halving over epochs up to --epochs",
                  partial_epochs=True, check=_check_rungs)(_asha("MultiObjectiveASHA"))
register_strategy("model-based-asha", kind=MULTI_FIDELITY, cls="ModelBasedASHA",
                  fixed=("max_epochs", "checkpoint_dir"),
                  settings=(*ASHA_SETTINGS, "initial_samples", "candidates", "surrogate"),
                  description="mo-asha whose new architectures come from model-based's EHVI fitted on the "
                              "highest rung with initial_samples results",
                  partial_epochs=True, check=_check_model_based_rungs)(_asha("ModelBasedASHA"))


@register_strategy("oneshot", kind=ONE_SHOT, cls="OneShotMultiObjective", fixed=("population_size",),
                   settings=("supernet_epochs", "supernet_config", "recalibration_batches", "retrain_top_k",
                             "generations", "crossover_probability", "mutation_labels", "max_retries"),
                   description="a weight-sharing supernet scores an NSGA-II population", partial_epochs=True)
def _oneshot(config, common, concurrency, settings):
    # its budget: generations x population scores, then retrain_top_k trials
    return _strategy("OneShotMultiObjective")(population_size=config.population, **{**common, "max_trials": None},
                                              **settings)


@register_strategy("darts-penalty", kind=ONE_SHOT, cls="ParamsPenaltySweep", fixed=("search_evaluator", "darts_kwargs"),
                   settings=("penalties", "search_epochs", "search_batch_size", "learning_rate", "arc_learning_rate"),
                   description="DARTS with a #params penalty: one architecture per penalty weight",
                   fixed_internals="DARTS relaxes op and input choices, each op keeps its default internals")
def _darts_penalty(config, common, concurrency, settings):
    """``ParamsPenaltySweep``: one DARTS search per penalty on the search split of the run's data
    (``search_epochs``, ``search_batch_size``, ``learning_rate`` of the weights, ``arc_learning_rate``),
    each derived architecture trained as a trial of the run."""
    import warnings

    import torch

    from nas_sepconv.core.threads import default_threads
    from nas_sepconv.core.validation import check_positive_float, check_positive_int
    from strategies.darts_sweep import DEFAULT_PENALTIES, search_evaluator

    data = dict(dataset=config.dataset, data_dir=config.data_dir, train_limit=config.train_limit,
                epochs=settings.pop("search_epochs", 1), batch_size=settings.pop("search_batch_size", config.batch_size),
                seed=config.seed)
    if "learning_rate" in settings:
        data["learning_rate"] = settings.pop("learning_rate")
    check_positive_int("search_epochs", data["epochs"])
    check_positive_int("search_batch_size", data["batch_size"])
    if "learning_rate" in data:
        check_positive_float("learning_rate", data["learning_rate"])
    darts = {}
    if "arc_learning_rate" in settings:
        darts["arc_learning_rate"] = check_positive_float("arc_learning_rate", settings.pop("arc_learning_rate"))
    threads = config.threads if config.threads is not None else default_threads(1)[0]

    def evaluator():
        torch.set_num_threads(threads)    # the DARTS search trains here, in this process, like a trial
        with warnings.catch_warnings():   # NNI asks for traced DataLoaders, which only its ts engine needs
            warnings.filterwarnings("ignore", message="When using training service to spawn trials")
            return search_evaluator(**data)()

    sweep = {k: common[k] for k in ("objectives", "reference", "seed", "checkpoint_path", "checkpoint_meta",
                                    "max_seconds")}
    return _strategy("ParamsPenaltySweep")(evaluator, penalties=settings.pop("penalties", DEFAULT_PENALTIES),
                                           darts_kwargs=darts, **sweep)


def _optuna(sampler: str) -> Builder:
    def build(config, common, concurrency, settings):
        return _strategy("OptunaSearch")(sampler=sampler, batch_size=concurrency, **common, **settings)
    return build


for _sampler, _what in (("tpe", "TPE"), ("gp", "GP"), ("nsga2", "NSGA-II")):
    register_strategy(f"optuna:{_sampler}", kind=SAMPLING, cls="OptunaSearch", fixed=("sampler", "batch_size"),
                      settings=("max_retries",), description=f"Optuna's {_what} sampler", needs="optuna",
                      missing='needs Optuna: pip install "nas-sepconv[optuna]"')(_optuna(_sampler))
