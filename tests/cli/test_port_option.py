"""`--port` of the ts engine: a free port by default, a busy one refused in one line before a run
directory exists, the web portal's URL printed once and logged in run.log."""
import os
import socket
import subprocess
import sys

import pytest

TINY = ["--engine", "ts", "--trials", "1", "--width", "4", "--cells", "3", "--no-references"]


def test_busy_port_is_one_line_exit_2_and_no_run_directory(tmp_path):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        done = subprocess.run([sys.executable, "-m", "nas_sepconv", "search", *TINY, "--port", str(port),
                               "--out", str(tmp_path / "runs")], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 2 and done.stdout == "" and "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [f"nas-sepconv search: error: `--port` {port} is in use (another NNI "
                                        f"experiment or program listens on it); give another port, or leave "
                                        f"`--port` out for a free one."]
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("argv, config, message", [
    (["--port", "80"], "", "`--port` must be an integer in [1024, 65535], or 0 for a free port, got 80"),
    ([], "port: 70000\n", "`--port` must be an integer in [1024, 65535], or 0 for a free port, got 70000"),
    ([], "port: '8080'\n", "`--port` must be an integer in [1024, 65535]"),
    (["--engine", "sequential"], "port: 8081\n", "`--port` applies to the ts engine only"),
])
def test_bad_port_values_are_refused_by_one_rule(cli, tmp_path, argv, config, message):
    (tmp_path / "c.yaml").write_text(config or "engine: ts\n")
    code, out, err = cli("search", "--config", tmp_path / "c.yaml", *argv, "--out", tmp_path / "runs")
    assert code == 2 and message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "runs").exists()


class FakeExperiment:
    """Stands in for NNI's NasExperiment: records the port it is started on, runs no trial."""

    ports = []

    def __init__(self, space, evaluator, strategy, config):
        assert config.execution_engine.name == "ts"

    def run(self, port=8080):
        FakeExperiment.ports.append(port)

    def stop(self):
        pass


def test_the_port_reaches_nni_and_its_url_is_printed_once(cli, tmp_path, monkeypatch):
    import nni.nas.experiment

    from nas_sepconv.core.ports import free_port

    monkeypatch.setattr(nni.nas.experiment, "NasExperiment", FakeExperiment)
    FakeExperiment.ports = []
    given = free_port()
    code, out, err = cli("search", *TINY, "--port", given, "--out", tmp_path / "runs")
    assert code == 2 and "no trial ran" in err, err  # the fake trains nothing
    assert FakeExperiment.ports == [given]
    assert out.count("http://localhost:") == 1 and f"NNI web portal: http://localhost:{given}\n" in out
    (run,) = (tmp_path / "runs").iterdir()
    assert f"NNI web portal: http://localhost:{given} " in (run / "run.log").read_text()
    code, out, _ = cli("search", *TINY, "--quiet", "--out", tmp_path / "quiet")   # default: a free port
    (run,) = (tmp_path / "quiet").iterdir()
    assert code == 2 and "http://" not in out and len(FakeExperiment.ports) == 2
    assert 1024 <= FakeExperiment.ports[1] <= 65535
    assert f"NNI web portal: http://localhost:{FakeExperiment.ports[1]} " in (run / "run.log").read_text()


def test_resume_takes_the_runs_port_or_its_own_and_refuses_a_busy_one(cli, tmp_path):
    from nas_sepconv.runs.config import SearchConfig
    from nas_sepconv.runs.job import create_run

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        run = create_run(SearchConfig(engine="ts", port=port, width=4, cells=3, references=False), tmp_path)
        before = sorted(p.name for p in run.path.iterdir())
        code, out, err = cli("resume", run.path)
        assert code == 2 and out == "" and err.splitlines() == [
            f"nas-sepconv resume: error: the run's `port` {port} (its config.json) is in use; give `--port 0` for "
            f"a free one, or another `--port`."]
        code, _, err = cli("resume", run.path, "--port", port)
        assert code == 2 and f"`--port` {port} is in use" in err
        code, _, err = cli("resume", run.path, "--port", "80")
        assert code == 2 and "`--port` must be an integer in [1024, 65535]" in err
        assert sorted(p.name for p in run.path.iterdir()) == before
    sequential = create_run(SearchConfig(width=4, cells=3, references=False), tmp_path / "seq")
    code, _, err = cli("resume", sequential.path, "--port", "8081")
    assert code == 2 and "`port` applies to the ts engine only" in err
