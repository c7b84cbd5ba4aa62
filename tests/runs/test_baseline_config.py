"""The `baseline` setting of a search (flag --baseline, config key baseline) and the hypervolume box."""
import pytest

from nas_sepconv.evaluation.data import load_dataset
from nas_sepconv.runs.job import SearchConfig, build_space, declare_box, declare_reference


def test_baseline_config_is_the_same_search_over_the_other_op_set():
    config = SearchConfig.from_mapping({"baseline": "darts", "trials": 8, "seed": 3})
    base = config.baseline_config()
    assert (base.ops, base.baseline, base.references) == ("darts", None, False)
    assert (base.trials, base.seed, base.strategy, base.epochs) == (8, 3, config.strategy, config.epochs)
    listed = SearchConfig.from_mapping({"baseline": ["sep_conv_3x3", "skip_connect"]})
    assert listed.baseline == ("sep_conv_3x3", "skip_connect") and listed.baseline_name == "ops"
    assert SearchConfig.from_mapping(listed.to_dict()) == listed          # survives config.json
    with pytest.raises(ValueError, match="`baseline`"):
        SearchConfig(space="resnet", baseline="darts")


def test_box_is_the_space_max_cost_and_the_reference_leaves_a_margin():
    config = SearchConfig(width=4, cells=3)
    space = build_space(config, load_dataset("digits", None, train_limit=8, test_limit=8).spec)
    largest = space.max_cost()
    assert declare_box(config, space).values == (0.0, largest.params)
    assert declare_reference(config, space).values[1] == pytest.approx(1.1 * largest.params, abs=1)
    constrained = SearchConfig(width=4, cells=3, max_params=1000)
    assert declare_box(constrained, space) == declare_box(config, space)     # independent of the constraint
