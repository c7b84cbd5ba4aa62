"""How a search stops, through the real process: Ctrl-C exits 130 and a resume ends as an
uninterrupted run would; no feasible sample is an error; --max-time holds on the sequential engine
and on the default (pool) engine;
--quiet prints only the run directory and the summary."""
import csv
import glob
import signal
import subprocess
import sys
import time

SMALL = ["--population", "2", "--epochs", "2", "--train-limit", "400", "--width", "4", "--cells", "3",
         "--batch-size", "32", "--ops", "max_pool_3x3", "skip_connect", "sep_conv_3x3", "--no-references", "--quiet"]
CLI = [sys.executable, "-m", "nas_sepconv"]


def _rows(run):
    with open(f"{run}/trials.csv", newline="") as fh:
        return [(r["id"], r["genotype"], r["params"], r["status"]) for r in csv.DictReader(fh)]


def test_ctrl_c_exits_130_and_resume_ends_as_an_uninterrupted_run(tmp_path):
    whole = subprocess.run([*CLI, "search", "--trials", "4", *SMALL, "--out", tmp_path / "whole"],
                           capture_output=True, text=True, timeout=300)
    assert whole.returncode == 0, whole.stderr
    search = subprocess.Popen([*CLI, "search", "--trials", "4", *SMALL, "--out", tmp_path / "cut"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    start = time.time()
    while time.time() - start < 200:        # Ctrl-C once the first trial has ended (the second is training)
        logs = glob.glob(f"{tmp_path}/cut/*/run.log")
        if logs and "] ok" in open(logs[0]).read():
            break
        time.sleep(0.1)
    search.send_signal(signal.SIGINT)
    out, err = search.communicate(timeout=200)
    (run,) = glob.glob(f"{tmp_path}/cut/*")
    assert search.returncode == 130
    assert err.strip().splitlines()[-1] == f"nas-sepconv search: interrupted after {len(_rows(run))} trials; " \
                                           f"resume with: nas-sepconv resume {run}"
    assert all(row[3] == "ok" for row in _rows(run)) and not (glob.glob(f"{run}/report.*"))
    resumed = subprocess.run([*CLI, "resume", run, "--quiet"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    (reference,) = glob.glob(f"{tmp_path}/whole/*")
    assert _rows(run) == _rows(reference)   # no trial left failed as "interrupted", the same trials


def test_no_feasible_sample_is_an_error(tmp_path):
    done = subprocess.run([*CLI, "search", "--trials", "2", *SMALL, "--max-params", "1000", "--out", tmp_path],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "no trial ran" in done.stderr and "--max-params" in done.stderr


def test_max_time_holds_on_the_sequential_and_pool_engines(tmp_path):
    for max_time, engine in (("0.5", "sequential"), ("6", "auto")):  # 'auto': the pool on 2 cores or more
        start = time.time()
        done = subprocess.run([*CLI, "search", "--trials", "1000000000", *SMALL, "--max-time", max_time,
                               "--engine", engine, "--out", tmp_path / max_time],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        (run,) = glob.glob(f"{tmp_path}/{max_time}/*")
        rows = _rows(run)
        assert 1 <= len(rows) and (len(rows) == 1 if max_time == "0.5" else len(rows) < 20)
        assert time.time() - start < 120
        # --quiet: the run directory and the summary only; NNI's log lines went to run.log
        assert done.stdout.splitlines() == [f"run directory: {run}",
                                            f"{len(rows)} trials; frontier and report in {run} (report.html)"]
        assert done.stderr == "" and "Experiment stopped" in open(f"{run}/run.log").read()
