"""A full disk mid-search: one line, exit 2, the files written before intact and readable."""
import errno
import json
import os

from nas_sepconv.runs.run_dir import RunDir

TINY = ["--trials", "6", "--population", "2", "--epochs", "1", "--train-limit", "64", "--width", "4", "--cells", "3",
        "--batch-size", "32", "--ops", "max_pool_3x3", "skip_connect", "sep_conv_3x3", "--no-references", "--quiet"]


def test_a_full_disk_ends_in_one_line_and_exit_2_with_earlier_files_intact(cli, tmp_path, monkeypatch):
    import nas_sepconv.core.io as io_module

    real_fsync = os.fsync

    def ended(path):
        try:
            return len(json.loads(path.read_text())["archive"]["records"])
        except (OSError, ValueError, KeyError):
            return 0

    def fsync(fd):   # the disk fills up once the checkpoint holds two ended trials
        if any(ended(p) >= 2 for p in tmp_path.glob("*/strategy.json")):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(io_module.os, "fsync", fsync)
    code, out, err = cli("search", *TINY, "--out", tmp_path)
    monkeypatch.undo()
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "no space left" in lines[0], err
    (run,) = tmp_path.iterdir()
    assert not list(run.glob(".*.tmp"))
    rows = RunDir.open(run).read_trials()                    # every file still parses
    assert len(rows) < 6
    json.loads((run / "strategy.json").read_text())
    code, out, err = cli("resume", run, "--quiet")           # space again: the run completes
    assert code == 0, err
    assert len(RunDir.open(run).read_trials()) == 6
