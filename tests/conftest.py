import logging
import os
import tempfile

# NNI lists every experiment in ~/nni-experiments/.experiment (its home is read from HOME when
# NNI is imported): tests, and the CLI processes they start, use a throw-away home instead of the
# user's. Set before anything imports NNI.
os.environ["HOME"] = tempfile.mkdtemp(prefix="nas-sepconv-tests-home-")

import pytest  # noqa: E402
import torch  # noqa: E402

# NNI stops its experiments again at interpreter exit and logs while doing so, after
# pytest has closed the captured streams; don't print those logging errors.
logging.raiseExceptions = False

# Tests train tiny networks: one intra-op thread avoids contention on 2 shared cores
# (measured 5-40x faster here than torch's default of 2). Set at import so that fixtures
# of every scope (module-scoped searches included) run with it.
torch.set_num_threads(1)


# The suite runs on parallel pytest-xdist workers (``-n auto --dist loadgroup`` in setup.cfg's
# addopts; ``python -m pytest -n 0`` runs it in one process). Each worker is its own process, so
# the throw-away HOME and the thread count above hold per worker.

@pytest.hookimpl(optionalhook=True)   # a hook of pytest-xdist: unknown to a run with ``-p no:xdist``
def pytest_xdist_auto_num_workers(config):
    """``-n auto``: one worker per CPU this process may use, at most 8 (each worker holds torch,
    NNI and the test's real trainings; more contend for memory and NNI processes)."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return int(os.environ["PYTEST_XDIST_AUTO_NUM_WORKERS"])
    return max(1, min(len(os.sched_getaffinity(0)), 8))


def _shared_fixtures(item):
    """Keys of the module-, package- or session-scoped fixtures of this project that ``item`` uses
    (pytest's own and plugins' fixtures have an empty baseid)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return set()
    keys = set()
    for name, defs in info.name2fixturedefs.items():
        if defs and defs[-1].scope != "function" and defs[-1].baseid:
            keys.add(f"{defs[-1].baseid}::{name}")
    return keys


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Group the tests for ``--dist loadgroup``: every test that uses a project fixture of a wider
    scope than one test (a real search made once per module, say) runs on the same worker as every
    other user of that fixture, so the fixture is still made once; explicit ``xdist_group`` marks
    join the same groups. Tests outside any group are spread one by one."""
    parent = {}

    def find(key):
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    keyed = []
    for item in items:
        keys = _shared_fixtures(item) | {f"group:{m.args[0] if m.args else m.kwargs.get('name', 'default')}"
                                         for m in item.iter_markers("xdist_group")}
        if keys:
            first, *rest = sorted(keys)
            for key in rest:
                parent[find(key)] = find(first)
            keyed.append((item, keys))
    members = {}
    for item, keys in keyed:
        members.setdefault(find(next(iter(keys))), set()).update(keys)
    for item, keys in keyed:
        component = members[find(next(iter(keys)))]
        names = {k[len("group:"):] for k in component if k.startswith("group:")} or {
            min(component).replace("/", ".").replace("::", "-")}
        for name in names:
            item.add_marker(pytest.mark.xdist_group(name))
