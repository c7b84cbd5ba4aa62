"""`resume` loses no data: a bad checkpoint is refused before any file changes, a lost one is
rebuilt from trials.csv, a second resume of a locked run and an edited config are refused."""
import hashlib
import json
import pathlib
import shutil

import pytest

from nas_sepconv.runs.run_dir import RunDir

TINY = ["--trials", "2", "--population", "2", "--epochs", "1", "--train-limit", "64", "--width", "4", "--cells", "3",
        "--batch-size", "32", "--ops", "max_pool_3x3", "skip_connect", "sep_conv_3x3", "--no-references", "--quiet"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished two-trial search (made once; each test works on a copy)."""
    from nas_sepconv.cli import main

    out = tmp_path_factory.mktemp("search")
    assert main(["search", *TINY, "--out", str(out)]) == 0
    return next(out.iterdir())


@pytest.fixture
def run(finished_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(finished_run, copy)
    return copy


def digests(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


CORRUPT = {
    "empty": b"",
    "empty object": b"{}",
    "empty list": b"[]",
    "binary": bytes(range(256)) * 4,
    "truncated": None,             # the real checkpoint cut in half
    "archive of the wrong type": b'{"version": 1, "archive": 5, "generation": 0, "planned": [], "next_id": 0, '
                                 b'"rng": {}}',
}


@pytest.mark.parametrize("case", CORRUPT)
def test_a_bad_checkpoint_is_refused_and_every_file_stays_byte_identical(case, run, cli):
    checkpoint = run / "strategy.json"
    data = CORRUPT[case]
    if case == "truncated":
        data = checkpoint.read_bytes()[: len(checkpoint.read_bytes()) // 2]
    checkpoint.write_bytes(data)
    before = digests(run)
    code, out, err = cli("resume", run, "--quiet")
    assert code == 2 and "Traceback" not in err and len(err.splitlines()) == 1, err
    assert "strategy.json" in err
    assert digests(run) == before


def test_a_deleted_checkpoint_is_rebuilt_from_trials_csv_without_retraining(run, cli):
    trials = (run / "trials.csv").read_text()
    (run / "strategy.json").unlink()
    log_size = (run / "run.log").stat().st_size
    code, out, err = cli("resume", run, "--quiet")
    assert code == 0, err
    assert (run / "trials.csv").read_text() == trials
    assert "] submitted:" not in (run / "run.log").read_text()[log_size:]   # nothing trained again
    state = json.loads((run / "strategy.json").read_text())
    assert sorted(r["id"] for r in state["archive"]["records"]) == [0, 1]


def test_a_checkpoint_behind_trials_csv_is_completed_from_it(run, cli):
    """A kill (or a full disk) between writing trials.csv and the checkpoint loses nothing."""
    trials = (run / "trials.csv").read_text()
    state = json.loads((run / "strategy.json").read_text())
    state["archive"]["records"] = state["archive"]["records"][:1]
    (run / "strategy.json").write_text(json.dumps(state))
    log_size = (run / "run.log").stat().st_size
    code, out, err = cli("resume", run, "--quiet")
    assert code == 0, err
    assert (run / "trials.csv").read_text() == trials
    assert "] submitted:" not in (run / "run.log").read_text()[log_size:]


def test_a_second_resume_of_a_locked_run_is_refused(run, cli):
    before = digests(run)
    with RunDir.open(run).lock():
        code, out, err = cli("resume", run, "--quiet")
    assert code == 2 and "is in use by another search or resume" in err and len(err.splitlines()) == 1
    assert digests(run) == before


@pytest.mark.parametrize("key, value, words", [("seed", 5, "says seed 5 but trials.csv holds trials with seed 0"),
                                               ("lr", 0.5, "settings changed since the checkpoint was written (lr: ")])
def test_a_resume_with_an_edited_config_is_refused(key, value, words, run, cli):
    meta = json.loads((run / "config.json").read_text())
    meta["config"][key] = value
    if key == "seed":
        meta["seed"] = value
    (run / "config.json").write_text(json.dumps(meta))
    before = digests(run)
    code, out, err = cli("resume", run, "--quiet")
    assert code == 2 and words in err and len(err.splitlines()) == 1, err
    assert digests(run) == before


def test_nni_names_the_experiment_after_the_run_and_tests_keep_out_of_the_users_home(finished_run):
    listing = pathlib.Path.home() / "nni-experiments" / ".experiment"
    assert pathlib.Path.home().name.startswith("nas-sepconv-tests-home-")     # set by tests/conftest.py
    assert finished_run.name in {e.get("experimentName") for e in json.loads(listing.read_text()).values()}
