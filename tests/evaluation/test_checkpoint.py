"""Training checkpoints (nas_sepconv.evaluation.checkpoint through train_model): 1 epoch, save,
continue to 3 gives the uninterrupted 3-epoch run's weights, optimizer state and accuracy exactly;
a missing, corrupt or foreign checkpoint trains from scratch and says so."""
import pytest
import torch

from nas_sepconv.evaluation.checkpoint import CheckpointError, load_training_state, training_fingerprint
from nas_sepconv.evaluation.data import load_dataset
from nas_sepconv.evaluation.train import TrainConfig, train_model
from nas_sepconv.genotypes.named import DARTS_V2
from nas_sepconv.models.network import build_model

# augmentation (pad-crop) and drop path on: the loader's generators and torch's RNG must be restored
CONFIG = dict(batch_size=16, lr=0.1, lr_min=0.01, drop_path=0.2, padding=1, num_threads=1, schedule_epochs=3)


@pytest.fixture(scope="module")
def small():
    return load_dataset("digits", train_limit=64, test_limit=40)


def _model():
    torch.manual_seed(0)
    return build_model(DARTS_V2, num_classes=10, channels=4, layers=3, stem="digits", drop_path=0.2)


def _config(epochs):
    return TrainConfig(epochs=epochs, **CONFIG)


def _same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_one_epoch_saved_and_continued_to_three_equals_one_three_epoch_run(small, tmp_path):
    whole_model = _model()
    whole = train_model(whole_model, small, _config(3))
    part_model = _model()
    part = train_model(part_model, small, _config(1), save_to=tmp_path / "ck.pt")
    assert part.trained_epochs == 1 and (tmp_path / "ck.pt").is_file()
    assert not _same_weights(part_model, whole_model)
    resumed_model = _model()              # a new process would build the same fresh model
    seen = []
    resumed = train_model(resumed_model, small, _config(3), resume_from=tmp_path / "ck.pt",
                          progress=lambda epoch, metrics: seen.append(epoch))
    assert (resumed.start_epoch, resumed.trained_epochs, resumed.note) == (1, 2, "")
    assert seen == [2, 3]
    assert _same_weights(resumed_model, whole_model)
    assert resumed.accuracy == whole.accuracy
    assert [(r.loss, r.eval_acc, r.lr, r.drop_path) for r in resumed.history] == \
        [(r.loss, r.eval_acc, r.lr, r.drop_path) for r in whole.history]
    assert not list(tmp_path.glob(".*.tmp"))              # written atomically, nothing left over


def test_continuing_in_two_steps_also_equals_the_whole_run(small, tmp_path):
    whole_model = _model()
    train_model(whole_model, small, _config(3))
    train_model(_model(), small, _config(1), save_to=tmp_path / "a.pt")
    train_model(_model(), small, _config(2), resume_from=tmp_path / "a.pt", save_to=tmp_path / "b.pt")
    last = _model()
    assert train_model(last, small, _config(3), resume_from=tmp_path / "b.pt").trained_epochs == 1
    assert _same_weights(last, whole_model)


@pytest.mark.parametrize("damage", ["missing", "truncated", "garbage", "other_settings", "other_identity"])
def test_an_unusable_checkpoint_trains_from_scratch_and_says_why(small, tmp_path, damage):
    path = tmp_path / "ck.pt"
    train_model(_model(), small, _config(1), save_to=path, identity={"arch": "a"})
    if damage == "missing":
        path.unlink()
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:200])
    elif damage == "garbage":
        path.write_bytes(b"not a checkpoint")
    config = TrainConfig(**{**_config(2).to_dict(), "lr": 0.05}) if damage == "other_settings" else _config(2)
    identity = {"arch": "b" if damage == "other_identity" else "a"}
    model = _model()
    result = train_model(model, small, config, resume_from=path, identity=identity)
    assert (result.start_epoch, result.trained_epochs) == (0, 2)
    assert result.note.startswith("trained from scratch: ")
    fresh = _model()
    scratch = train_model(fresh, small, config, identity=identity)
    assert _same_weights(model, fresh) and result.accuracy == scratch.accuracy   # no half-restored state


def test_load_refuses_more_epochs_than_asked_for_and_another_model(small, tmp_path):
    path = tmp_path / "ck.pt"
    train_model(_model(), small, _config(2), save_to=path)
    mark = training_fingerprint(_config(1), len(small.train_labels), len(small.test_labels))
    with pytest.raises(CheckpointError, match="2 epochs, cannot continue to 1"):
        load_training_state(path, mark, 1, _model(), 2)
    other = build_model(DARTS_V2, num_classes=10, channels=6, layers=3, stem="digits")
    with pytest.raises(CheckpointError, match="another model"):
        load_training_state(path, mark, 3, other, 2)


def test_a_checkpoint_that_cannot_be_written_keeps_the_result_and_says_so(small, tmp_path):
    (tmp_path / "file").write_text("")
    result = train_model(_model(), small, _config(1), save_to=tmp_path / "file" / "ck.pt")   # parent is a file
    assert result.trained_epochs == 1 and "checkpoint not written" in result.note
