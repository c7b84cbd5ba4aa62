"""The NNI trial function, called outside NNI (nas_sepconv.evaluation.trial)."""
import json

import nni
import pytest
import torch
from torch import nn

from nas_sepconv.evaluation.trial import evaluate_sample
from nas_sepconv.genotypes.named import DARTS_V2
from nas_sepconv.models.network import build_model, count
from nas_sepconv.ops import count_built

TINY = dict(epochs=1, batch_size=32, num_threads=1, channels=4, layers=3, train_limit=300, test_limit=40)


@pytest.fixture
def reports(monkeypatch):
    """Capture what the trial sends to NNI."""
    sent = {"intermediate": [], "final": []}
    monkeypatch.setattr(nni, "report_intermediate_result", sent["intermediate"].append)
    monkeypatch.setattr(nni, "report_final_result", sent["final"].append)
    return sent


def test_genotype_trial_reports_costs_and_accuracy(reports):
    result = evaluate_sample(DARTS_V2, auxiliary=True, **{**TINY, "epochs": 2})
    assert reports["final"] == [result]
    assert [r["epoch"] for r in reports["intermediate"]] == [1, 2]
    assert reports["intermediate"][-1]["default"] == result["default"]
    expected = count(DARTS_V2, num_classes=10, channels=4, layers=3, stem="digits")  # aux head excluded
    assert (result["params"], result["flops"]) == (expected.params, expected.flops)
    assert result["status"] == "ok" and 0.0 <= result["default"] <= 1.0
    assert (result["epochs"], result["seed"], result["split"]) == (2, 0, "search")
    assert len(json.dumps(result)) < 64 * 1024 and len(json.dumps(reports["intermediate"])) < 64 * 1024


def test_sample_dict_and_built_module_give_the_genotype_result(reports):
    by_genotype = evaluate_sample(DARTS_V2, **TINY)
    by_sample = evaluate_sample(DARTS_V2.to_sample(), **TINY)
    net = {"channels": 4, "layers": 3}
    module_kw = {k: v for k, v in TINY.items() if k not in net}
    torch.manual_seed(123)  # a different initialisation: the trial re-draws it from `seed`
    model = build_model(DARTS_V2, num_classes=10, stem="digits", **net)
    by_module = evaluate_sample(model, **module_kw)
    strip = lambda r: {k: v for k, v in r.items() if k != "seconds"}  # noqa: E731
    assert strip(by_genotype) == strip(by_sample) == strip(by_module)
    assert by_module["flops"] == count_built(model, (8, 8), 1).flops


class NaNNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        return self.fc(x.flatten(1)) * float("nan")


def test_diverged_trial_is_reported_as_failed_with_reason(reports):
    result = evaluate_sample(NaNNet(), epochs=3, num_threads=1, train_limit=100, test_limit=20)
    assert reports["final"] == [result] and reports["intermediate"] == []
    assert result["default"] == 0.0 and result["status"] == "failed"
    assert "non-finite" in result["reason"] and "epoch 1" in result["reason"]
    assert result["params"] == 650 and result["flops"] == 640
    assert result["trained_epochs"] == 1            # stopped in its first epoch


def test_runs_outside_an_nni_trial_with_the_real_reporters():
    result = evaluate_sample(NaNNet(), epochs=1, num_threads=1, train_limit=100, test_limit=20, split="test")
    assert result["status"] == "failed" and result["split"] == "test"


@pytest.mark.parametrize("params, name", [
    ({"epoch": 1}, "epoch"), ({"split": "valid"}, "`split`"), ({"epochs": 0}, "`epochs`"),
    ({"dataset": "mnist"}, "`dataset`"), ({"channels": 4}, "network settings"), ({"resume_from": 3}, "`resume_from`"),
])
def test_bad_parameters_are_refused(params, name):
    with pytest.raises(ValueError, match=name):
        evaluate_sample(NaNNet(), **params)


def test_rejects_an_unknown_sample_type():
    with pytest.raises(ValueError, match="`sample_or_model`"):
        evaluate_sample("DARTS_V2", epochs=1)


def test_a_trial_continues_a_checkpoint_of_its_lower_budget_and_reports_the_epochs_it_trained(reports, tmp_path):
    budget = {**TINY, "schedule_epochs": 2}
    whole = evaluate_sample(DARTS_V2, **{**budget, "epochs": 2})
    low = evaluate_sample(DARTS_V2, **budget, save_checkpoint=str(tmp_path / "t0.pt"))
    assert (low["epochs"], low["trained_epochs"]) == (1, 1) and "resumed_from" not in low
    high = evaluate_sample(DARTS_V2, **{**budget, "epochs": 2}, resume_from=str(tmp_path / "t0.pt"))
    assert (high["epochs"], high["trained_epochs"], high["resumed_from"]) == (2, 1, 1)
    assert high["default"] == whole["default"] and "note" not in high
    other = evaluate_sample(DARTS_V2, **{**budget, "epochs": 2, "split_seed": 1},   # another search split
                            resume_from=str(tmp_path / "t0.pt"))
    assert (other["trained_epochs"], other["resumed_from"]) == (2, 0) and "another run" in other["note"]
    (tmp_path / "bad.pt").write_bytes(b"junk")
    bad = evaluate_sample(DARTS_V2, **{**budget, "epochs": 2}, resume_from=str(tmp_path / "bad.pt"))
    assert (bad["trained_epochs"], bad["default"]) == (2, whole["default"]) and "unreadable" in bad["note"]


def test_a_checkpoint_of_another_architecture_with_the_same_weight_shapes_is_not_continued(reports, tmp_path):
    budget = {**TINY, "schedule_epochs": 2}
    sample = DARTS_V2.to_sample()
    pools = [k for k, v in sample.items() if v == "max_pool_3x3"]
    assert pools                                       # max and avg pooling have no weights: same shapes
    other = {**sample, pools[0]: "avg_pool_3x3"}
    evaluate_sample(sample, **budget, save_checkpoint=str(tmp_path / "t0.pt"))
    result = evaluate_sample(other, **{**budget, "epochs": 2}, resume_from=str(tmp_path / "t0.pt"))
    assert (result["trained_epochs"], result["resumed_from"]) == (2, 0) and "another run" in result["note"]
