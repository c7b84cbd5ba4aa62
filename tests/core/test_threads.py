"""The thread rule: (cores - load average) // concurrent trials, at least 1; applied by train_model."""
import os

import torch

from nas_sepconv.core import threads
from nas_sepconv.core.threads import default_threads


def _machine(monkeypatch, cores, load):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, 0.0, 0.0))


def test_rule(monkeypatch):
    for cores, load, concurrent, expected in [(16, 0.2, 1, 16), (16, 3.6, 3, 4), (2, 0.4, 1, 2), (2, 1.6, 1, 1),
                                              (2, 9.0, 1, 1), (8, 0.0, 16, 1)]:
        _machine(monkeypatch, cores, load)
        n, text = default_threads(concurrent)
        assert n == expected, (cores, load, concurrent)
        assert text.startswith(f"{expected} torch thread(s) per trial: ({cores} cores - {round(load)} busy")


def test_unknown_load_counts_nothing_busy(monkeypatch):
    def no_load():
        raise OSError("no load average")
    monkeypatch.setattr(os, "getloadavg", no_load)
    assert threads.busy_cores() == 0


def test_train_model_trains_with_the_rule_and_restores_torch(monkeypatch):
    from nas_sepconv.evaluation.data import load_dataset
    from nas_sepconv.evaluation.train import TrainConfig, train_model

    _machine(monkeypatch, 3, 1.0)  # rule: 2 threads
    data = load_dataset("digits", train_limit=40, test_limit=20)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    seen = []
    before = torch.get_num_threads()
    train_model(model, data, TrainConfig(epochs=1, device="cpu"), progress=lambda e, m: seen.append(
        torch.get_num_threads()))
    assert seen == [2] and torch.get_num_threads() == before
    train_model(model, data, TrainConfig(epochs=1, num_threads=1, device="cpu"),
                progress=lambda e, m: seen.append(torch.get_num_threads()))
    assert seen == [2, 1]
