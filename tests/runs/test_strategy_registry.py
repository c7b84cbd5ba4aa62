"""The strategy registry: one entry per `--strategy` name that the config, the job, `--help` and
`restore` query; its settings keys are those of the constructors, its classes those built."""
import inspect

import pytest

from nas_sepconv.core.errors import UserError
from nas_sepconv.runs import strategy_registry as registry
from nas_sepconv.runs.config import SearchConfig
from nas_sepconv.runs.strategy_registry import (
    MULTI_FIDELITY,
    ONE_SHOT,
    SAMPLING,
    find_strategy,
    get_strategy,
    list_strategies,
    register_strategy,
)

#: What `build_strategy` passes every builder (its `common`), and what the space gives, not a setting.
COMMON = {"objectives", "max_trials", "max_params", "max_flops", "reference", "seed", "checkpoint_path",
          "checkpoint_meta", "max_seconds"}
FROM_SPACE = {"cost_fn", "key_fn"}
#: Builders that read settings of their own before the constructor (the DARTS search's data and epochs;
#: whether MO-ASHA's promotions continue, which sets its checkpoint_dir).
OWN_SETTINGS = {"darts-penalty": {"search_epochs", "search_batch_size", "learning_rate", "arc_learning_rate"},
                "mo-asha": {"continue_training"}, "model-based-asha": {"continue_training"}}
#: Base-class arguments a constructor refuses although its **kwargs pass them on (ParamsPenaltySweep's budget
#: is its penalties).
REFUSED = {"darts-penalty": {"max_retries"}}


def constructor_keywords(cls) -> set[str]:
    """The keyword arguments ``cls(...)`` takes, following ``**kwargs`` up the MRO."""
    names = set()
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        params = inspect.signature(vars(klass)["__init__"]).parameters.values()
        names |= {p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "self"}
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            return names
    return names


def test_names_kinds_and_order():
    assert list_strategies(available=False) == ("evolution", "random", "model-based", "mo-asha", "model-based-asha",
                                                "oneshot", "darts-penalty", "optuna:tpe", "optuna:gp", "optuna:nsga2")
    assert list_strategies(ONE_SHOT) == ("oneshot", "darts-penalty")
    assert list_strategies(MULTI_FIDELITY) == ("mo-asha", "model-based-asha")
    assert "model-based" in list_strategies(SAMPLING) and "mo-asha" not in list_strategies(SAMPLING)
    assert [n for n in list_strategies(available=False) if find_strategy(n).partial_epochs] == ["mo-asha", "model-based-asha",
                                                                                         "oneshot"]
    assert find_strategy("annealing") is None and find_strategy(None) is None
    with pytest.raises(UserError, match="`kind` must be one of"):
        list_strategies("bayesian")


@pytest.mark.parametrize("name", list_strategies(available=False))
def test_settings_are_the_constructors_keywords(name):
    import strategies

    spec = find_strategy(name)
    cls = getattr(strategies, spec.cls)
    keywords = constructor_keywords(cls)
    assert set(spec.fixed) <= keywords
    expected = keywords - COMMON - FROM_SPACE - set(spec.fixed) - REFUSED.get(name, set())
    expected |= OWN_SETTINGS.get(name, set())
    assert set(spec.settings) == expected and len(spec.settings) == len(set(spec.settings))
    assert spec.description and "," not in spec.description   # one item of --help's comma-separated list


@pytest.mark.parametrize("name", list_strategies())
def test_each_builder_makes_its_class(name):
    from nas_sepconv.runs.job import build_strategy

    config = SearchConfig(strategy=name, device="cpu", concurrency=2, engine="ts", threads=1)
    strategy = build_strategy(config, None, None, None)
    assert type(strategy).__name__ == find_strategy(name).cls
    if hasattr(strategy, "batch_size") and name != "random":
        assert strategy.batch_size == 2        # a round proposes for every worker


def test_a_missing_extra_is_one_line_and_leaves_the_list(monkeypatch):
    from nas_sepconv.cli.search import strategy_help

    real = registry.importlib.util.find_spec
    monkeypatch.setattr(registry.importlib.util, "find_spec", lambda name: None if name == "optuna" else real(name))
    assert "optuna:tpe" not in list_strategies() and "optuna:tpe" in list_strategies(available=False)
    with pytest.raises(UserError, match=r"^`strategy` 'optuna:gp' needs Optuna: pip install \"nas-sepconv\[optuna\]\"\.$"):
        SearchConfig(strategy="optuna:gp")
    with pytest.raises(UserError, match="`strategy` must be one of 'evolution', 'random', 'model-based', 'mo-asha', "
                                        "'model-based-asha', 'oneshot', 'darts-penalty', got 'annealing'"):
        get_strategy("annealing")
    text = strategy_help()
    assert "optuna:tpe, optuna:gp, optuna:nsga2 need the optuna extra" in text and "(Optuna's" not in text
    assert "optuna:gp: max_retries" in text


def test_a_name_is_registered_once():
    with pytest.raises(ValueError, match="registered twice"):
        register_strategy("random", kind=SAMPLING, cls="X", settings=(), description="again")(lambda *a: None)


def test_the_default_model_based_strategy_says_which_strategy_takes_three_objectives():
    with pytest.raises(UserError, match=r"^`objectives` must be accuracy and one cost \(params or flops\) for "
                                        r"`strategy` 'model-based', got accuracy, params, flops; choose another "
                                        r"`strategy`, e.g. evolution \(NSGA-II\)\.$"):
        SearchConfig(objectives=("accuracy", "params", "flops"))
    with pytest.raises(UserError, match="for `strategy` 'model-based-asha', got accuracy, params, flops"):
        SearchConfig(strategy="model-based-asha", objectives=("accuracy", "params", "flops"))
    with pytest.raises(UserError, match="min_epochs"):   # and the rungs, as mo-asha's
        SearchConfig(strategy="model-based-asha", epochs=2, strategy_settings={"min_epochs": 3})
    assert SearchConfig(strategy="evolution", objectives=("accuracy", "params", "flops")).strategy == "evolution"
    assert SearchConfig(objectives=("accuracy", "flops")).objectives == ("accuracy", "flops")
