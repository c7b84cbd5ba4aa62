"""Training recipe, evaluation, determinism and divergence handling (nas_sepconv.evaluation.train)."""
import math

import pytest
import torch
from torch import nn

from nas_sepconv.evaluation.data import load_dataset
from nas_sepconv.evaluation.train import EpochRecord, TrainConfig, TrainingFailed, evaluate, split_data, train_model
from nas_sepconv.genotypes.named import DARTS_V2
from nas_sepconv.models.network import build_model

QUICK = dict(num_threads=1, padding=0, flip=False)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def small():
    return load_dataset("digits", train_limit=64, test_limit=40)


class Linear(nn.Module):
    """Flatten + linear classifier; optional drop-path attribute, aux output or NaN output."""

    def __init__(self, *, aux: bool = False, nan: bool = False) -> None:
        super().__init__()
        self.fc = nn.Linear(64, 10)
        self.aux = nn.Linear(64, 10) if aux else None
        self.nan = nan

    def forward(self, x):
        flat = x.flatten(1)
        logits = self.fc(flat) * (float("nan") if self.nan else 1.0)
        return (logits, self.aux(flat)) if self.aux is not None and self.training else logits


def _tiny_darts(seed=0):
    torch.manual_seed(seed)
    return build_model(DARTS_V2, num_classes=10, channels=4, layers=3, stem="digits")


# -- TrainConfig -------------------------------------------------------------------------
def test_config_defaults_follow_darts():
    c = TrainConfig()
    assert (c.momentum, c.weight_decay, c.grad_clip, c.auxiliary_weight, c.lr) == (0.9, 3e-4, 5.0, 0.4, 0.025)
    assert (c.cutout, c.drop_path, c.label_smoothing, c.device, c.num_threads) == (0, 0.0, 0.0, "auto", None)
    assert TrainConfig(**c.to_dict()) == c


@pytest.mark.parametrize("field, value", [
    ("epochs", 0), ("batch_size", 2.5), ("lr", 0.0), ("lr", float("nan")), ("lr_min", 1.0), ("lr_min", -0.1),
    ("momentum", 1.0), ("weight_decay", -1e-4), ("grad_clip", float("inf")), ("cutout", -1), ("padding", -2),
    ("flip", 1), ("auxiliary_weight", -0.4), ("drop_path", 1.0), ("label_smoothing", 1.0), ("seed", -1),
    ("num_threads", 0), ("device", "nowhere"), ("eval_batch_size", True),
])
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=rf"`{field}`.*{value!r}".replace("(", r"\(").replace(")", r"\)")):
        TrainConfig(**{field: value})


def test_config_is_frozen_and_keyword_only():
    with pytest.raises(TypeError):
        TrainConfig(10)
    with pytest.raises(AttributeError):
        TrainConfig().epochs = 3


def test_augmentation_uses_dataset_defaults_unless_overridden(small):
    assert TrainConfig().augmentation(small) == type(TrainConfig().augmentation(small))(padding=1, flip=False)
    aug = TrainConfig(padding=0, flip=True, cutout=3).augmentation(small)
    assert (aug.padding, aug.flip, aug.cutout) == (0, True, 3)


# -- splits and evaluation ---------------------------------------------------------------
def test_search_split_halves_training_part_and_never_uses_test(digits):
    search = split_data(digits, "search")
    assert len(search.train_labels) + len(search.test_labels) == len(digits.train_labels)
    assert abs(len(search.train_labels) - len(search.test_labels)) <= 1
    rows = {tuple(r.tolist()) for r in digits.train_images.flatten(1)}
    assert all(tuple(r.tolist()) in rows for r in search.test_images.flatten(1)[:50])
    assert split_data(digits, "test") is digits
    with pytest.raises(ValueError, match="`split`"):
        split_data(digits, "valid")


def test_evaluate_matches_manual_top1_and_restores_mode(small):
    torch.manual_seed(1)
    model = Linear(aux=True).train()
    with torch.no_grad():
        expected = (model.fc(small.test_images.flatten(1)).argmax(1) == small.test_labels).float().mean().item()
    assert evaluate(model, small.test_images, small.test_labels, batch_size=7) == pytest.approx(expected, abs=0)
    assert model.training
    with pytest.raises(ValueError, match="`batch_size`"):
        evaluate(model, small.test_images, small.test_labels, batch_size=0)


# -- the recipe --------------------------------------------------------------------------
def test_one_step_applies_clip_weight_decay_and_lr(small):
    torch.manual_seed(2)
    model = Linear()
    w0, b0 = model.fc.weight.detach().clone(), model.fc.bias.detach().clone()
    config = TrainConfig(epochs=1, batch_size=64, lr=0.5, weight_decay=0.01, grad_clip=0.05, **QUICK)
    w, b = w0.clone().requires_grad_(), b0.clone().requires_grad_()
    loss = nn.functional.cross_entropy(small.train_images.flatten(1) @ w.T + b, small.train_labels)
    gw, gb = torch.autograd.grad(loss, (w, b))
    scale = 0.05 / (torch.cat([gw.flatten(), gb]).norm() + 1e-6)
    assert scale < 1  # the clip is active
    result = train_model(model, small, config)
    torch.testing.assert_close(model.fc.weight.detach(), w0 - 0.5 * (scale * gw + 0.01 * w0))
    torch.testing.assert_close(model.fc.bias.detach(), b0 - 0.5 * (scale * gb + 0.01 * b0))
    assert result.history[0].loss == pytest.approx(loss.item(), rel=1e-6)


@pytest.mark.parametrize("weight, smoothing", [(0.4, 0.0), (1.5, 0.1)])
def test_loss_adds_weighted_auxiliary_term_and_smoothing(small, weight, smoothing):
    torch.manual_seed(3)
    model = Linear(aux=True)
    x, y = small.train_images.flatten(1), small.train_labels
    with torch.no_grad():
        ce = lambda z: nn.functional.cross_entropy(z, y, label_smoothing=smoothing)  # noqa: E731
        expected = ce(model.fc(x)) + weight * ce(model.aux(x))
    config = TrainConfig(epochs=1, batch_size=64, auxiliary_weight=weight, label_smoothing=smoothing, **QUICK)
    assert train_model(model, small, config).history[0].loss == pytest.approx(expected.item(), rel=1e-6)


class DropPathProbe(Linear):
    """Records the drop-path probability it sees in every training forward pass."""

    def __init__(self, nni_style: bool) -> None:
        super().__init__()
        self.seen = []
        if nni_style:
            self.set_drop_path_prob = lambda p: setattr(self, "_p", p)
        else:
            self.drop_path_prob = 0.0

    def forward(self, x):
        if self.training:
            self.seen.append(getattr(self, "_p", getattr(self, "drop_path_prob", None)))
        return super().forward(x)


@pytest.mark.parametrize("nni_style", [False, True])
def test_drop_path_and_lr_follow_darts_schedules(small, nni_style):
    model = DropPathProbe(nni_style)
    config = TrainConfig(epochs=4, batch_size=64, lr=0.1, lr_min=0.01, drop_path=0.3, **QUICK)
    history = train_model(model, small, config).history
    assert model.seen == pytest.approx([0.3 * e / 4 for e in range(4)])
    assert [r.drop_path for r in history] == pytest.approx(model.seen)
    cosine = [0.01 + 0.09 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(4)]
    assert [r.lr for r in history] == pytest.approx(cosine)
    assert [r.epoch for r in history] == [1, 2, 3, 4]


def test_schedule_epochs_stops_early_in_the_longer_run(small):
    """``epochs=2, schedule_epochs=4`` is the first 2 epochs of the 4-epoch run, number for number
    (what a multi-fidelity search trains at a lower budget)."""
    config = TrainConfig(epochs=4, batch_size=32, lr=0.1, lr_min=0.01, drop_path=0.3, **QUICK)
    torch.manual_seed(0)
    longer = train_model(DropPathProbe(False), small, config).history
    torch.manual_seed(0)
    short = train_model(DropPathProbe(False), small, TrainConfig(**{**config.to_dict(), "epochs": 2,
                                                                      "schedule_epochs": 4})).history
    assert [(r.loss, r.eval_acc, r.lr, r.drop_path) for r in short] == \
        [(r.loss, r.eval_acc, r.lr, r.drop_path) for r in longer[:2]]
    with pytest.raises(ValueError, match="schedule_epochs"):
        TrainConfig(epochs=3, schedule_epochs=2)


def test_drop_path_needs_a_model_that_supports_it(small):
    with pytest.raises(ValueError, match="`drop_path`"):
        train_model(Linear(), small, TrainConfig(epochs=1, drop_path=0.2, **QUICK))


def test_nan_loss_fails_at_once_with_a_reason(small):
    model = Linear(nan=True)
    w0 = model.fc.weight.detach().clone()
    with pytest.raises(TrainingFailed, match="epoch 1, batch 0") as info:
        train_model(model, small, TrainConfig(epochs=3, batch_size=16, **QUICK))
    assert "non-finite" in info.value.reason
    assert torch.equal(model.fc.weight.detach(), w0)  # no step was taken


def test_progress_callback_per_epoch_and_no_printing(small, capsys):
    calls = []
    before = torch.get_num_threads()
    train_model(Linear(), small, TrainConfig(epochs=2, batch_size=32, **QUICK),
                progress=lambda epoch, metrics: calls.append((epoch, metrics)))
    assert [e for e, _ in calls] == [1, 2]
    assert set(calls[0][1]) == set(EpochRecord.__dataclass_fields__)
    assert capsys.readouterr() == ("", "")
    assert torch.get_num_threads() == before


# -- a real network ----------------------------------------------------------------------
def test_tiny_darts_network_learns_digits_deterministically(digits):
    config = TrainConfig(epochs=2, batch_size=32, lr=0.05, drop_path=0.2, cutout=2, num_threads=1)
    first = train_model(_tiny_darts(), digits, config)
    second = train_model(_tiny_darts(), digits, config)
    assert first.accuracy > 0.2  # chance is 0.1
    assert first.accuracy == second.accuracy
    assert [r.loss for r in first.history] == [r.loss for r in second.history]
    other = train_model(_tiny_darts(), digits, TrainConfig(**{**config.to_dict(), "seed": 1, "epochs": 1}))
    assert other.history[0].loss != first.history[0].loss
    assert 0 < first.seconds and len(first.history) == 2


def test_recalibrate_bn_sets_exact_statistics_and_restores_momentum():
    from nas_sepconv.evaluation.train import recalibrate_bn

    torch.manual_seed(0)
    conv, bn = nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3, momentum=0.3)
    model = nn.Sequential(conv, bn).eval()
    images = torch.randn(10, 2, 5, 5)
    assert recalibrate_bn(model, [images]) == 1
    with torch.no_grad():
        features = conv(images).transpose(0, 1).reshape(3, -1)
    assert torch.allclose(bn.running_mean, features.mean(1), atol=1e-5)
    assert torch.allclose(bn.running_var, features.var(1, unbiased=True), atol=1e-5)
    assert bn.momentum == 0.3 and not model.training
