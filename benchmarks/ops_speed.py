"""Forward+backward speed of osep vs dsep vs conv on CPU (osep paper's speed question).

Times one training step (forward, ``sum().backward()``) of the registered ops
``osep_3x3`` (default internals), ``dsep_conv_3x3`` and ``conv_3x3`` with C_in = C_out = C,
stride 1, for C in {64, 128, 256} and H = W in {32, 16, 8}, on NCHW float32 inputs
(``--channels-last``: channels-last inputs for every op, as in a network of osep ops).
The three ops are timed round-robin inside one loop (warm-up first, then the median of
``--repeats`` steps each), so machine noise hits them alike; report the ratios of one run.
Default: batch 64, 2 threads (the CI machine has 2 cores), wall-clock time; ``--quick`` uses
batch 8. On a loaded machine ``--threads 1 --clock cpu`` (process CPU time) is far steadier.

Results and the before/after table: results/bench/ops_speed.md.

    python benchmarks/ops_speed.py [--batch 64] [--threads 2] [--repeats 7] [--clock wall|cpu] [--quick]
                                   [--channels-last]
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import torch

from nas_sepconv.ops import create_op

OPS = {"osep": "osep_3x3", "dsep": "dsep_conv_3x3", "conv": "conv_3x3"}
CHANNELS = (64, 128, 256)
SIZES = (32, 16, 8)


def step_fn(op: torch.nn.Module, x: torch.Tensor) -> Callable[[], None]:
    """One forward+backward step of ``op`` on ``x`` (gradients of params and input)."""
    def step() -> None:
        op.zero_grad(set_to_none=True)
        x.grad = None
        op(x).sum().backward()
    return step


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def time_round_robin(steps: dict[str, Callable[[], None]], warmup: int, repeats: int,
                     clock: Callable[[], float]) -> dict[str, float]:
    """Median milliseconds per step, the steps interleaved so noise affects each alike."""
    for _ in range(warmup):
        for step in steps.values():
            step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = clock()
            step()
            times[name].append(1e3 * (clock() - start))
    return {name: statistics.median(ts) for name, ts in times.items()}


def measure(c: int, hw: int, batch: int, warmup: int, repeats: int, clock: Callable[[], float],
            channels_last: bool = False) -> dict[str, float]:
    torch.manual_seed(0)
    x = torch.randn(batch, c, hw, hw)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    steps = {name: step_fn(create_op(op, c, c, 1), x) for name, op in OPS.items()}
    return time_round_robin(steps, warmup, repeats, clock)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="wall")
    parser.add_argument("--quick", action="store_true", help="batch 8, 3 repeats, 1 warm-up")
    parser.add_argument("--channels-last", action="store_true",
                        help="channels-last input for every op (activations of a network of osep ops are)")
    args = parser.parse_args()
    if args.quick:
        args.batch, args.repeats, args.warmup = 8, 3, 1
    torch.set_num_threads(args.threads)
    print(f"batch {args.batch}, {args.threads} threads, {args.clock} clock, median of {args.repeats}, "
          f"{'channels-last' if args.channels_last else 'NCHW'} input, torch {torch.__version__}")
    print("| C | HxW | osep ms | dsep ms | conv ms | osep/dsep | conv/dsep |")
    print("|---|---|---|---|---|---|---|")
    for c in CHANNELS:
        for hw in SIZES:
            ms = measure(c, hw, args.batch, args.warmup, args.repeats, CLOCKS[args.clock], args.channels_last)
            print(f"| {c} | {hw}x{hw} | {ms['osep']:.1f} | {ms['dsep']:.1f} | {ms['conv']:.1f} "
                  f"| {ms['osep'] / ms['dsep']:.2f} | {ms['conv'] / ms['dsep']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
