"""How many trials a search runs at once, on which engine and with how many threads: the rules
``resolve_parallel`` fixes when a run is created, and the checks on given values."""
import pytest

from nas_sepconv.core import threads
from nas_sepconv.core.errors import UserError
from nas_sepconv.runs import job
from nas_sepconv.runs.config import SearchConfig


@pytest.fixture
def machine(monkeypatch):
    """``machine(cores, load)``: what the rules see of this machine (no GPU)."""
    def set_machine(cores, load=0):
        monkeypatch.setattr(threads, "available_cores", lambda: cores)
        monkeypatch.setattr(threads, "busy_cores", lambda: load)
        monkeypatch.setattr(job, "_cuda_count", lambda: 0)
        monkeypatch.setattr("os.cpu_count", lambda: cores)
    return set_machine


def resolved(**settings):
    config = job.resolve_parallel(SearchConfig(device="cpu", **settings))
    return config.engine, config.concurrency, config.threads


def test_the_default_uses_every_core_with_one_thread_per_trial(machine):
    machine(2, load=2)
    assert resolved() == ("pool", 2, 1)                   # a busy machine too: 1-thread trials do not wait
    machine(16)
    assert resolved() == ("pool", 16, 1)
    assert resolved(threads=4) == ("pool", 4, 4)
    machine(1)
    assert resolved() == ("sequential", 1, 1)            # one core: no worker process at all
    machine(2)
    assert resolved(threads=2) == ("sequential", 1, 2)
    assert resolved(engine="sequential") == ("sequential", 1, 2)   # the thread rule as before
    assert resolved(engine="ts") == ("ts", 2, 1)
    assert resolved(engine="pool", concurrency=1) == ("pool", 1, 2)
    assert job.resolve_parallel(job.resolve_parallel(SearchConfig(device="cpu"))) == \
        job.resolve_parallel(SearchConfig(device="cpu"))


def test_given_concurrency_is_checked_in_one_line(machine):
    machine(2)
    for settings, message in [
        (dict(concurrency=0), "`concurrency` must be an integer >= 1, got 0"),
        (dict(concurrency=2, engine="sequential"), "`concurrency` must be 1 on the sequential engine"),
        (dict(concurrency=3), "`concurrency` must be at most 2 (the 2 cores of this machine"),
        (dict(concurrency=2, threads=2, engine="pool"), "`concurrency` (2) x `threads` (2) must be at most the 2"),
        (dict(engine="kubernetes"), "`engine` must be one of"),
    ]:
        with pytest.raises(UserError, match=None) as raised:
            SearchConfig(**settings)
        assert message in str(raised.value) and "\n" not in str(raised.value)
    assert SearchConfig(concurrency=8, engine="ts").concurrency == 8   # ts trials may run elsewhere
