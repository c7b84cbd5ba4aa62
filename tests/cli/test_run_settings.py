"""RUN#ID takes its run's dataset, stem, channels, cells and classes (config.json) unless a flag overrides."""
import json
import subprocess
import sys

import torch
from cli_support import BLK, write_tiny_cifar10

from nas_sepconv.models.network import build_model, count


def numbers(out):
    lines = dict(line.split(":", 1) for line in out.splitlines()[1:])
    return int(lines["params"].replace(",", "")), int(lines["FLOPs"].replace(",", ""))


def test_count_of_a_digits_run_counts_the_digits_network_in_a_real_process(make_run, tmp_path):
    run = make_run(config={"dataset": "digits", "space": "cell", "width": 4, "cells": 3})
    done = subprocess.run([sys.executable, "-m", "nas_sepconv", "count", f"{run.path}#2"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=120)
    expected = count(BLK, channels=4, layers=3, stem="digits", in_channels=1, input_size=8)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert numbers(done.stdout) == (expected.params, expected.flops)
    assert done.stdout.splitlines()[0].endswith("stem digits, C=4, 3 cells, 10 classes, input 8x8")
    cifar = count(BLK, channels=4, layers=3, stem="cifar")
    assert cifar.params != expected.params  # the stems differ: counting the wrong one is not harmless


def test_a_flag_overrides_the_run_and_says_so(cli, make_run):
    run = make_run(config={"dataset": "digits", "width": 4, "cells": 3})
    code, out, err = cli("count", f"{run.path}#2", "--stem", "cifar", "--layers", "5")
    expected = count(BLK, channels=4, layers=5, stem="cifar", in_channels=1, input_size=8)  # still digits data
    assert code == 0 and numbers(out) == (expected.params, expected.flops)
    assert "--stem cifar overrides the run's digits" in err and "--layers 5 overrides the run's 3" in err
    assert str(run.path / "config.json") in err


def test_count_of_a_cifar100_run_has_100_classes(cli, make_run, tmp_path):
    run = make_run(config={"dataset": "cifar100", "data_dir": str(tmp_path), "width": 4, "cells": 3})
    code, out, err = cli("count", f"{run.path}#0")
    from nas_sepconv.genotypes.named import DARTS_V1
    expected = count(DARTS_V1, num_classes=100, channels=4, layers=3, stem="cifar")
    assert code == 0 and err == "" and numbers(out) == (expected.params, expected.flops)


def test_train_of_a_cifar10_run_trains_on_cifar10_in_a_real_process(cli, make_run, tmp_path):
    data = write_tiny_cifar10(tmp_path / "data")
    run = make_run(config={"dataset": "cifar10", "data_dir": str(data), "width": 4, "cells": 3})
    out = tmp_path / "trained"
    done = subprocess.run([sys.executable, "-m", "nas_sepconv", "train", f"{run.path}#0", "--epochs", "1",
                           "--threads", "1", "--out", str(out), "--quiet"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["dataset"] == "cifar10" and metrics["data_dir"] == str(data)
    assert metrics["network"] == {"channels": 4, "layers": 3, "auxiliary": False, "num_classes": 10,
                                  "in_channels": 3, "stem": "cifar"}
    assert metrics["preprocessing"]["channels"] == 3 and metrics["preprocessing"]["input_size"] == [32, 32]
    from nas_sepconv.genotypes.named import DARTS_V1
    model = build_model(DARTS_V1, channels=4, layers=3, stem="cifar", in_channels=3)
    model.load_state_dict(torch.load(out / "weights.pt", weights_only=True))
    code, _, err = cli("train", f"{run.path}#0", "--dataset", "digits", "--epochs", "1", "--threads", "1",
                       "--out", tmp_path / "digits", "--quiet")
    assert code == 0 and "--dataset digits overrides the run's cifar10" in err
    assert json.loads((tmp_path / "digits" / "metrics.json").read_text())["dataset"] == "digits"
