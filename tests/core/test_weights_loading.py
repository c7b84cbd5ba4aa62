"""Every load of a weights file a user can hand over runs no code: a planted pickle that would
create a marker file is refused (core.io.load_weights, the CLI's --weights), and no module of the
package calls torch.load any other way."""
import os
import pathlib
import re
import subprocess
import sys

import pytest
import torch

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.io import load_weights

ROOT = pathlib.Path(__file__).resolve().parents[2]


class _Plant:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _plant(tmp_path):
    marker = tmp_path / "MARKER"
    path = tmp_path / "evil.pt"
    torch.save({"weight": _Plant(marker)}, path)
    return path, marker


def test_the_plant_would_run_code_without_weights_only(tmp_path):
    path, marker = _plant(tmp_path)
    torch.load(path, weights_only=False)   # the test's own control: this is what is guarded against
    assert marker.exists()


def test_load_weights_refuses_a_planted_pickle(tmp_path):
    path, marker = _plant(tmp_path)
    with pytest.raises(UserError, match="evil.pt"):
        load_weights(path)
    assert not marker.exists()
    torch.save({"w": torch.ones(2)}, tmp_path / "ok.pt")
    assert torch.equal(load_weights(tmp_path / "ok.pt")["w"], torch.ones(2))


def test_the_cli_refuses_planted_weights(tmp_path):
    path, marker = _plant(tmp_path)
    done = subprocess.run([sys.executable, "-m", "nas_sepconv", "decompose", "resnet8", "--multiplier", "0.25",
                           "--weights", str(path), "--out", str(tmp_path / "out"), "--quiet"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stderr and "--weights" in done.stderr
    assert not marker.exists()


def test_no_other_torch_load_in_the_package():
    calls = []
    for folder in ("nas_sepconv", "strategies", "search_spaces"):
        for path in (ROOT / folder).rglob("*.py"):
            for line in path.read_text().splitlines():
                if re.search(r"\btorch\.load\(", line) and "weights_only=True" not in line:
                    calls.append(f"{path.relative_to(ROOT)}: {line.strip()}")
    assert calls == []
