"""Files that cannot hurt: hostile trial ids never steer an output path, results honour the umask."""
import csv
import io
import os
import stat
import subprocess
import sys

import pytest
from cli_support import tree

from nas_sepconv.cli._shared import inside, write_files
from nas_sepconv.core.errors import UserError


def _rewrite_ids(path, new_id):
    rows = list(csv.reader(io.StringIO(path.read_text())))
    rows[1][0] = new_id
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    path.write_text(buffer.getvalue())


@pytest.mark.parametrize("hostile", ["x/../../../../../ESCAPED", "../ESCAPED", "1e3", "-0", " 1", "3.0"])
def test_export_refuses_a_trial_id_that_is_not_an_integer(hostile, make_run, tmp_path):
    run = make_run()
    _rewrite_ids(run.path / "trials.csv", hostile)
    before = tree(tmp_path)
    done = subprocess.run([sys.executable, "-m", "nas_sepconv", "export", str(run.path)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1
    assert "trials.csv line 2: `id` must be a whole number" in done.stderr
    assert tree(tmp_path) == before and not list(tmp_path.rglob("ESCAPED*"))


@pytest.mark.parametrize("name", ["../x.json", "a/b.json", "..", "", "/etc/x"])
def test_no_output_file_leaves_its_folder(name, tmp_path):
    with pytest.raises(UserError, match="would leave"):
        inside(tmp_path / "out", name)
    with pytest.raises(UserError):
        write_files(tmp_path / "out", {"ok.json": b"{}", name: b"{}"})
    assert not (tmp_path / "out").exists()


def test_result_files_honour_the_umask(make_run, tmp_path):
    old = os.umask(0o022)
    try:
        run = make_run()
        done = subprocess.run([sys.executable, "-m", "nas_sepconv", "export", str(run.path)], capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    finally:
        os.umask(old)
    files = [p for p in run.path.rglob("*") if p.is_file()]
    assert len(files) >= 5 and {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o644}


def test_report_removes_the_stale_tmp_files_a_killed_writer_left(make_run, cli):
    run = make_run()
    stale, fresh = run.path / ".frontier.png.k1ll3d.tmp", run.path / ".report.md.writing.tmp"
    stale.write_bytes(b"half a png")
    os.utime(stale, (0, 0))                               # left long ago
    fresh.write_bytes(b"a writer still running")
    code, out, err = cli("report", run.path)
    assert code == 0, err
    assert not stale.exists() and fresh.exists()          # a running writer keeps its own
