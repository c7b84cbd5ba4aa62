"""Shared fixtures of the CLI tests: run the real command in-process, build real run directories."""
import pytest
from cli_support import BLK, REF, TRIALS

from nas_sepconv.cli import main
from nas_sepconv.evaluation.record import TrialRecord
from nas_sepconv.genotypes.named import DARTS_V1, DARTS_V2, PC_DARTS
from nas_sepconv.runs.run_dir import ReferenceArch, RunDir


@pytest.fixture
def cli(capsys):
    """``cli(*argv)`` runs ``nas-sepconv argv`` in this process; returns (exit code, stdout, stderr)."""
    def run(*argv):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as stop:  # argparse: --help and usage errors
            code = stop.code
        out, err = capsys.readouterr()
        return code, out, err
    return run


@pytest.fixture
def make_run(tmp_path):
    """``make_run(name, seed=0, config=None)``: a run directory with TRIALS, written by RunDir."""
    def make(name="evo", seed=0, config=None, trials=TRIALS):
        run = RunDir.create(tmp_path / "runs", name, config={"strategy": "evolution", **(config or {}),
                                                              "seed": seed}, seed=seed, reference=REF)
        genotypes = [DARTS_V1, PC_DARTS, BLK, DARTS_V2]
        run.write_trials([TrialRecord.ended(i, genotypes[i % 4], p, 10 * p, acc, 1, seed, 2.0,
                                   "ok" if acc is not None else "failed", "" if acc is not None else "nan loss")
                          for i, (p, acc) in enumerate(trials)])
        run.write_references([ReferenceArch("ResNet20", 269722, 0.8, 40_000_000, 1)])
        return run
    return make
