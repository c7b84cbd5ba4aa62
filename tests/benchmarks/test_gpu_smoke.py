"""benchmarks/gpu_smoke.py skips cleanly without a GPU (one line, exit 0)."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_smoke.py"


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU machine the script runs for real")
def test_skips_with_one_line_and_exit_0(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.startswith("gpu_smoke: skipped, no CUDA device") and len(done.stdout.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []
