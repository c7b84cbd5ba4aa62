"""DARTS with an expected-#params penalty, and the penalty sweep: real tiny runs on digits."""
import numpy as np
import pytest
import torch
from nni.nas.evaluator import FunctionalEvaluator
from nni.nas.experiment import NasExperiment, NasExperimentConfig
from nni.nas.oneshot.pytorch.supermodule.differentiable import DifferentiableMixedCell

from nas_sepconv.evaluation.trial import evaluate_sample
from search_spaces import SepConvDartsSpace
from strategies.darts_penalty import ExpectedParamsPenalty, ParamsPenaltyDARTS
from strategies.darts_sweep import ParamsPenaltySweep, search_evaluator

OPS = ("max_pool_3x3", "skip_connect", "sep_conv_3x3", "conv_3x3")  # two free, one cheap, one dear
PENALTIES = (0.0, 0.5, 2.0, 5.0)
TRIAL = dict(dataset="digits", epochs=1, train_limit=256, batch_size=32, num_threads=1)


def tiny_space(**overrides):
    kwargs = dict(op_candidates=OPS, width=4, num_cells=3, stem="digits", search_internals=False)
    return SepConvDartsSpace(**{**kwargs, **overrides})


def mutated(penalty=1.0):
    space = tiny_space()
    strategy = ParamsPenaltyDARTS(penalty=penalty)
    strategy.mutate_model(space)
    return space, strategy


def config(path, model_format="simplified"):
    conf = NasExperimentConfig("sequential", model_format, "local")
    conf.experiment_working_directory = str(path)
    return conf


def hand_vector(channels, stride):
    """#params per slot (max_pool, skip, sep_conv, conv, none) of an edge, by hand."""
    c = channels
    sep = 2 * (9 * c + c * c + 2 * c)  # twice: dw 3x3, pw 1x1, BN
    conv = 9 * c * c + 2 * c  # ReLU, conv 3x3, BN
    skip = c * c + 2 * c if stride == 2 else 0  # FactorizedReduce: two 1x1 C -> C/2, BN
    return np.array([0, skip, sep, conv, 0], dtype=float)


def hand_costs():
    """Width 4, three cells: normal at C=4, two reductions at C=8 and C=16 sharing 'reduce'."""
    costs = {}
    for node in range(2, 6):
        for j in range(node):
            stride = 2 if j < 2 else 1
            costs[f"normal/{node}_{j}"] = hand_vector(4, 1)
            costs[f"reduce/{node}_{j}"] = hand_vector(8, stride) + hand_vector(16, stride)
    return costs


def test_cost_vectors_match_hand_counts_and_the_built_supernet():
    space, strategy = mutated()
    penalty = strategy.params_penalty
    hand = hand_costs()
    assert set(penalty.costs) == set(hand)
    for label, vector in hand.items():
        assert penalty.costs[label].tolist() == vector.tolist(), label
    built = {}
    for cell in (m for m in space.modules() if isinstance(m, DifferentiableMixedCell)):
        for node, row in enumerate(cell.ops, start=2):
            for j, candidates in enumerate(row):
                counts = [sum(p.numel() for p in op.parameters()) for op in candidates.values()] + [0]
                label = f"{cell.label}/{node}_{j}"
                built[label] = built.get(label, 0) + np.array(counts)
    assert {k: v.tolist() for k, v in built.items()} == {k: v.tolist() for k, v in hand.items()}
    assert penalty.baseline == sum(v.max() for v in hand.values()) == 14 * 152 + 14 * (592 + 2336)


def test_uniform_alphas_give_the_mean_op_params_per_edge():
    _, strategy = mutated()
    penalty = strategy.params_penalty
    with torch.no_grad():
        for alpha in penalty.alphas.values():
            alpha.zero_()
    expected = sum(v.mean() for v in hand_costs().values())
    assert float(penalty.expected_params()) == pytest.approx(expected, rel=1e-6)
    loss, details = penalty(torch.tensor(1.5))
    assert float(loss) == pytest.approx(1.5 + 1.0 * expected / penalty.baseline, rel=1e-6)
    assert float(details["normalised"]) == pytest.approx(expected / penalty.baseline, rel=1e-6)


def test_one_hot_alphas_on_the_dearest_op_reach_the_reference():
    _, strategy = mutated()
    penalty = strategy.params_penalty
    with torch.no_grad():
        for label, alpha in penalty.alphas.items():
            alpha.fill_(-50.0)
            alpha[int(penalty.costs[label].argmax())] = 50.0
    assert float(penalty.expected_params()) == pytest.approx(penalty.baseline, rel=1e-6)


def test_gradient_moves_mass_from_dear_to_cheap_ops():
    _, strategy = mutated(penalty=2.0)
    penalty = strategy.params_penalty
    with torch.no_grad():
        for alpha in penalty.alphas.values():
            alpha.zero_()
    loss, _ = penalty(torch.tensor(0.0))
    loss.backward()
    for label, alpha in penalty.alphas.items():
        cost = torch.tensor(hand_costs()[label], dtype=torch.float32)
        analytic = 2.0 / penalty.baseline * 0.2 * (cost - cost.mean())  # softmax_o (P_o - E_edge)
        assert torch.allclose(alpha.grad, analytic, rtol=1e-4, atol=1e-9), label
        assert alpha.grad.abs().sum() > 0
        assert alpha.grad[3] > 0 > alpha.grad[0]  # conv_3x3 pushed down, max_pool up


def test_penalised_darts_runs_in_a_plain_experiment(tmp_path):
    torch.manual_seed(0)
    space = tiny_space()
    strategy = ParamsPenaltyDARTS(penalty=5.0)
    evaluator = search_evaluator("digits", train_limit=256, batch_size=16)()
    NasExperiment(space, evaluator, strategy, config(tmp_path, "raw")).run(port=None, wait_completion=True)
    assert strategy.oneshot_module.penalty is strategy.params_penalty
    uniform = sum(v.mean() for v in hand_costs().values())
    assert float(strategy.params_penalty.expected_params()) < uniform - 1.0
    sample = next(strategy.list_models()).sample
    assert space.cost(sample).params > 0


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    torch.manual_seed(0)
    sweep = ParamsPenaltySweep(search_evaluator("digits", train_limit=256, batch_size=16), penalties=PENALTIES)
    space = tiny_space()
    experiment = NasExperiment(space, FunctionalEvaluator(evaluate_sample, **TRIAL), sweep,
                               config(tmp_path_factory.mktemp("sweep")))
    experiment.run(port=None, wait_completion=True)
    return space, sweep, experiment


def test_sweep_records_one_derived_architecture_per_penalty(swept):
    space, sweep, _ = swept
    records = sweep.archive.records
    assert [r.id for r in records] == list(range(len(PENALTIES)))
    assert [r.extra["penalty"] for r in records] == list(PENALTIES)
    for record in records:
        assert record.status == "ok" and record.epochs == 1 and record.seed == 0
        cost = space.cost(record.sample)
        assert record.objectives["params"] == cost.params  # the trial's count of the built model
        assert record.objectives["flops"] == cost.flops
        assert 0.0 <= record.objectives["accuracy"] <= 1.0


def test_larger_penalty_derives_no_larger_network(swept):
    params = [r.objectives["params"] for r in swept[1].archive.records]
    assert all(a >= b for a, b in zip(params, params[1:])), params
    assert params[-1] < params[0]


def test_frontier_is_the_non_dominated_subset(swept):
    _, sweep, experiment = swept
    records = sweep.archive.records
    points = [(r.objectives["accuracy"], r.objectives["params"]) for r in records]

    def dominated(p):
        return any(q[0] >= p[0] and q[1] <= p[1] and q != p for q in points)

    assert [r.id for r in sweep.frontier()] == [r.id for r, p in zip(records, points) if not dominated(p)]
    exported = experiment.export_top_models(top_k=len(records), formatter="dict")
    assert sorted(map(str, exported)) == sorted(str(r.sample) for r in sweep.frontier())


def test_resumed_sweep_trains_nothing_again(swept, tmp_path):
    _, sweep, _ = swept
    resumed = ParamsPenaltySweep(search_evaluator("digits", train_limit=256, batch_size=16), penalties=PENALTIES)
    resumed.load_state_dict(sweep.state_dict())
    experiment = NasExperiment(tiny_space(), FunctionalEvaluator(evaluate_sample, **TRIAL), resumed, config(tmp_path))
    experiment.run(port=None, wait_completion=True)
    assert list(resumed.engine.list_models()) == []
    assert resumed.archive.to_dict() == sweep.archive.to_dict()


@pytest.mark.parametrize("kwargs, name", [({"penalty": -1.0}, "penalty"), ({"penalty": float("nan")}, "penalty")])
def test_bad_penalty_is_refused(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        ParamsPenaltyDARTS(**kwargs)


@pytest.mark.parametrize("overrides, name", [({"search_internals": True}, "search_internals"),
                                             ({"width": [4, 8]}, "width")])
def test_unsuitable_space_is_refused(overrides, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        ParamsPenaltyDARTS(penalty=1.0).mutate_model(tiny_space(**overrides))


def test_bad_sweep_arguments_are_refused():
    factory = search_evaluator("digits", train_limit=64)
    with pytest.raises(ValueError, match="`penalties`"):
        ParamsPenaltySweep(factory, penalties=[])
    with pytest.raises(ValueError, match=r"`penalties\[1\]`"):
        ParamsPenaltySweep(factory, penalties=[0.0, -2.0])
    with pytest.raises(ValueError, match="`search_evaluator`"):
        ParamsPenaltySweep("digits")
    with pytest.raises(ValueError, match="`learning_rate`"):
        search_evaluator("digits", train_limit=64, learning_rate=0)
    with pytest.raises(ValueError, match="`max_params`"):
        ParamsPenaltySweep(factory, max_params=1000)
    with pytest.raises(ValueError, match="`alphas` and `costs`"):
        ExpectedParamsPenalty({"a": torch.zeros(2)}, {"b": [1, 2]}, weight=1.0)
