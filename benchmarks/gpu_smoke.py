"""GPU smoke check: a tiny search and a ``train`` on CUDA, and osep vs dsep forward+backward on CUDA.

On a machine with a CUDA device it runs, through the real ``nas-sepconv`` processes,
``search --device cuda`` (4 trials of 1 epoch, width 4, 3 cells, 160 images) and ``train
DARTS_V2 --epochs 1 --device cuda``, checks that run.log says the trials trained on CUDA and
that the saved ``weights.pt`` loads on the CPU, then times one training step (forward,
``sum().backward()``) of ``osep_3x3`` and ``dsep_conv_3x3`` on CUDA as
``benchmarks/ops_speed.py`` does on the CPU (round-robin, median, synchronised), and
prints every figure. Without a CUDA device it prints one line and exits 0, so CI without a
GPU skips it cleanly.

    python benchmarks/gpu_smoke.py [--batch 64] [--repeats 20] [--out DIR]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ops_speed import step_fn, time_round_robin  # noqa: E402

from nas_sepconv.ops import create_op  # noqa: E402

CHANNELS, SIZES = (64, 128, 256), (32, 16, 8)
SEARCH = ["--trials", "4", "--population", "2", "--epochs", "1", "--train-limit", "160", "--width", "4", "--cells",
          "3", "--batch-size", "32", "--no-references", "--quiet"]


def nas(*argv: str) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "nas_sepconv", *argv], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"gpu_smoke: nas-sepconv {' '.join(argv)} failed ({done.returncode}): "
                         f"{done.stderr.strip().splitlines()[-1:]}")
    return time.perf_counter() - start, done


def commands(out: Path) -> None:
    seconds, _ = nas("search", *SEARCH, "--device", "cuda", "--out", str(out / "search"))
    run = next((out / "search").iterdir())
    log = (run / "run.log").read_text(encoding="utf-8")
    if "trials train on cuda" not in log:
        raise SystemExit("gpu_smoke: run.log does not say the trials trained on cuda")
    print(f"search --device cuda: 4 trials in {seconds:.1f} s ({run})")
    seconds, done = nas("train", "DARTS_V2", "--epochs", "1", "--device", "cuda", "--out", str(out / "train"))
    state = torch.load(out / "train" / "weights.pt", weights_only=True)
    devices = {str(v.device) for v in state.values()}
    if devices != {"cpu"}:
        raise SystemExit(f"gpu_smoke: weights.pt holds tensors on {devices}, not the CPU")
    print(f"train DARTS_V2 --epochs 1 --device cuda: {seconds:.1f} s; {done.stdout.strip()}")


def cuda_clock() -> float:
    torch.cuda.synchronize()
    return time.perf_counter()


def op_speed(batch: int, repeats: int) -> None:
    print(f"forward+backward on {torch.cuda.get_device_name(0)}, batch {batch}, median of {repeats} (ms)")
    print(f"{'C':>4} {'HxW':>5} {'osep':>8} {'dsep':>8} {'osep/dsep':>9}")
    for c in CHANNELS:
        for hw in SIZES:
            torch.manual_seed(0)
            x = torch.randn(batch, c, hw, hw, device="cuda", requires_grad=True)
            steps = {name: step_fn(create_op(op, c, c, 1).cuda(), x)
                     for name, op in (("osep", "osep_3x3"), ("dsep", "dsep_conv_3x3"))}
            ms = time_round_robin(steps, 3, repeats, cuda_clock)
            print(f"{c:>4} {hw:>2}x{hw:<2} {ms['osep']:>8.3f} {ms['dsep']:>8.3f} {ms['osep'] / ms['dsep']:>9.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", type=Path, default=None, help="where the runs go (default: a temporary folder)")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print(f"gpu_smoke: skipped, no CUDA device (torch {torch.__version__}, CUDA build "
              f"{torch.version.cuda or 'none'})")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        commands(out)
    op_speed(args.batch, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
