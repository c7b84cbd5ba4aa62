"""Confirmation of a run: its frontier architectures and references retrained with more seeds
and/or epochs, so a difference is judged against the seed spread (one seed at a few epochs
moves an architecture's accuracy by several points on digits).

Every retraining (one architecture, one seed) is its own file
``confirm/<label>/seed<S>-epochs<E>.json`` (the trial's metric dict), written atomically and
never overwritten, so a killed ``confirm`` resumes where it stopped and every run is kept.
``confirmed.csv`` summarises them: per architecture the seeds, the accuracy of each, their
mean and sample standard deviation (columns ``CONFIRMED_COLUMNS``). Seeds are the run's seed
and the next ones (``seed, seed + 1, ...``); the first trains with the search's seed, though a
model built from the genotype need not draw the same initial weights as the search's NNI model.
"""
from __future__ import annotations

import csv
import io
import json
import re
import statistics
from dataclasses import dataclass
from typing import Any, Callable

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.io import atomic_write_text
from nas_sepconv.core.validation import MAX_SEED, check_positive_int
from nas_sepconv.evaluation.record import OK
from nas_sepconv.runs.run_dir import CONFIRM_DIR, CONFIRMED, RunDir, frontier

CONFIRMED_COLUMNS = ("label", "trial", "params", "flops", "epochs", "seeds", "accuracies", "mean", "std")


@dataclass(frozen=True)
class Confirmed:
    """One architecture retrained with ``seeds`` (same order as ``accuracies``); ``trial`` is
    its trial id, or None for a reference architecture."""

    label: str
    trial: int | None
    params: int
    flops: int
    epochs: int
    seeds: tuple[int, ...]
    accuracies: tuple[float, ...]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.accuracies)

    @property
    def std(self) -> float:
        """Sample standard deviation over the seeds (0 for one seed)."""
        return statistics.stdev(self.accuracies) if len(self.accuracies) > 1 else 0.0


@dataclass(frozen=True)
class Task:
    """One architecture to retrain: ``model()`` gives what ``evaluate_sample`` trains, with
    the ``network`` keyword arguments."""

    label: str
    trial: int | None
    model: Callable[[], Any]
    network: dict[str, Any]


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-") or "arch"


def confirm_tasks(run: RunDir, top: int | None = None) -> list[Task]:
    """The run's frontier trials (the ``top`` most accurate, all by default) and its
    reference architectures (DARTS_V2 and the plain ResNet the search trained)."""
    from nas_sepconv.runs.config import SearchConfig
    from nas_sepconv.runs.job import reference_models

    config = SearchConfig.from_run(run.config)
    front = frontier(run.read_trials(), run.reference)
    if not front:
        raise UserError(f"run '{run.path}' has no finished trials, so nothing to confirm.")
    if top is not None:
        check_positive_int("top", top)
        front = sorted(sorted(front, key=lambda r: -r.accuracy)[:top], key=lambda r: r.params)
    tasks = [Task(f"trial {row.id}", row.id, lambda g=row.genotype: g, {"stem": config.stem}) for row in front]
    if config.references:
        tasks += [Task(label, None, make, network) for label, make, network in reference_models(config)]
    return tasks


def _result_path(run: RunDir, task: Task, seed: int, epochs: int):
    return run.path / CONFIRM_DIR / _slug(task.label) / f"seed{seed}-epochs{epochs}.json"


def run_confirm(run: RunDir, *, seeds: int = 3, epochs: int | None = None, top: int | None = None,
                progress: Callable[[int, int], None] | None = None) -> list[Confirmed]:
    """Retrain every task of ``confirm_tasks`` with ``seeds`` seeds at ``epochs`` (default: the
    search's), skipping retrainings already on disk; write and return ``confirmed.csv``'s rows."""
    from nas_sepconv.evaluation.trial import evaluate_sample
    from nas_sepconv.runs.config import SearchConfig

    seeds = check_positive_int("seeds", seeds)
    if epochs is not None:
        check_positive_int("epochs", epochs)
    config = SearchConfig.from_run(run.config)
    if config.seed + seeds - 1 > MAX_SEED:  # the seeds every retraining takes (check_seed's range)
        raise UserError(f"`seeds` must be at most {MAX_SEED - config.seed + 1} (from the run's seed {config.seed} "
                        f"up to the largest seed {MAX_SEED}), got {seeds}.")
    epochs = config.epochs if epochs is None else epochs
    tasks = confirm_tasks(run, top)
    _check_activations(tasks, config)
    seed_list = [config.seed + k for k in range(seeds)]
    kwargs = {**config.trial_kwargs(), "epochs": epochs}
    done, total = 0, len(tasks) * len(seed_list)
    for task in tasks:
        for seed in seed_list:
            path = _result_path(run, task, seed, epochs)
            if not path.is_file():
                result = evaluate_sample(task.model(), **task.network, **{**kwargs, "seed": seed})
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_text(path, json.dumps(result, sort_keys=True) + "\n")
            done += 1
            if progress is not None:
                progress(done, total)
    confirmed = [_summarise(run, task, seed_list, epochs) for task in tasks]
    atomic_write_text(run.path / CONFIRMED, confirmed_to_csv(confirmed))
    return confirmed


def _check_activations(tasks: list[Task], config) -> None:
    """Refuse, before any training, a genotype whose forward activations for the run's batch size
    exceed the limit (``nas_sepconv.models.activations``; a built reference is not counted)."""
    from nas_sepconv.evaluation.data import load_dataset
    from nas_sepconv.genotypes.architecture import count_activations, is_architecture
    from nas_sepconv.models.activations import check_activation_memory

    spec = load_dataset(config.dataset, config.data_dir, train_limit=8, test_limit=8).spec
    for task in tasks:
        arch = task.model()
        if is_architecture(arch):
            elements = count_activations(arch, num_classes=spec.num_classes, in_channels=spec.in_channels,
                                         input_size=spec.image_size, **{"stem": config.stem, **task.network})
            check_activation_memory(elements, config.batch_size, "the run's `batch_size` (config.json)", task.label)


def _summarise(run: RunDir, task: Task, seeds: list[int], epochs: int) -> Confirmed:
    results = [json.loads(_result_path(run, task, seed, epochs).read_text(encoding="utf-8")) for seed in seeds]
    ok = [(seed, r) for seed, r in zip(seeds, results) if r.get("status") == OK]
    if not ok:
        raise UserError(f"every retraining of {task.label} failed ({results[0].get('reason', '')}).")
    return Confirmed(task.label, task.trial, int(ok[0][1]["params"]), int(ok[0][1]["flops"]), epochs,
                     tuple(s for s, _ in ok), tuple(float(r["default"]) for _, r in ok))


def confirmed_to_csv(rows: list[Confirmed]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CONFIRMED_COLUMNS)
    for row in rows:
        writer.writerow([row.label, "" if row.trial is None else row.trial, row.params, row.flops, row.epochs,
                         " ".join(map(str, row.seeds)), " ".join(repr(a) for a in row.accuracies),
                         repr(row.mean), repr(row.std)])
    return buffer.getvalue()


def read_confirmation(run: RunDir) -> tuple[Confirmed, ...] | None:
    """The rows of ``confirmed.csv``, or None when the run was not confirmed."""
    path = run.path / CONFIRMED
    if not path.is_file():
        return None
    rows = []
    for line, rec in enumerate(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))), start=2):
        try:
            rows.append(Confirmed(rec["label"], int(rec["trial"]) if rec["trial"] else None, int(rec["params"]),
                                  int(rec["flops"]), int(rec["epochs"]), tuple(map(int, rec["seeds"].split())),
                                  tuple(map(float, rec["accuracies"].split()))))
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise UserError(f"{path} line {line}: not a confirmed architecture ({err}).") from None
    return tuple(rows)
