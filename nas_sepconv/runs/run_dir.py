"""The run directory: every file a search leaves under ``results/``, written atomically.

Layout of ``results/<YYYYmmdd-HHMMSS>-<name>/``:

* ``config.json``: ``format``, ``name``, ``created``, the full resolved ``config``, ``seed``,
  package ``versions``, the hypervolume ``reference_point`` (``ReferencePoint.to_dict``) and the
  ``hypervolume_box`` that normalises it: accuracy 0 and the space's largest costs
  (``max_cost()``), so it depends only on the space and the objectives and every report of the
  run shows one normalised hypervolume (older runs without it fall back to the reference point).
  Its presence and validity is what makes a directory a run.
* ``trials.csv``: one ``TrialRecord`` per ended trial, in evaluation order (``runs.record``).
* ``frontier.csv``: the non-dominated ok trials under the reference point's objectives,
  by ascending #params; ``genotypes.json``: their genotypes keyed by trial id, so
  ``load_genotype('results/RUN/genotypes.json', id)`` works.
* ``references.csv``: optional reference architectures (label, params, flops, accuracy,
  epochs) trained with the run's budget, drawn as labelled markers by the report.
* ``baselines/<time>-baseline-<ops>/``: the run of ``search --baseline``, a run directory itself.
* ``confirm/`` and ``confirmed.csv``: the retrainings of ``confirm`` (``nas_sepconv.runs.confirm``).
* ``strategy.json``: the strategy's checkpoint (its archive and state) for ``resume``;
  ``run.log``: the run's log. A search or resume holds a ``flock`` on the directory itself.

Every file is replaced atomically (``nas_sepconv.core.io``): a kill never leaves half a file.
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import platform
import re
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.io import atomic_write_text, load_json, read_text
from nas_sepconv.core.validation import check_positive_int
from nas_sepconv.evaluation.record import FINISHED, TrialRecord, top_fidelity
from nas_sepconv.frontier.objectives import OBJECTIVES
from nas_sepconv.frontier.pareto import ReferencePoint, box_volume, pareto_front
from nas_sepconv.genotypes.architecture import Architecture
from nas_sepconv.genotypes.cell import Genotype
from nas_sepconv.genotypes.files import save_genotypes
from nas_sepconv.runs.record import rows_from_csv, rows_to_csv

FORMAT = "nas-sepconv-run/1"
CONFIG, TRIALS, FRONTIER, GENOTYPES = "config.json", "trials.csv", "frontier.csv", "genotypes.json"
REFERENCES, STRATEGY_STATE, LOG = "references.csv", "strategy.json", "run.log"
BASELINES, CONFIRMED, CONFIRM_DIR = "baselines", "confirmed.csv", "confirm"
#: MO-ASHA's training checkpoints while the search runs (promotions continue them; removed at its end).
TRAININGS = "trainings"
REFERENCE_COLUMNS = ("label", "params", "flops", "accuracy", "epochs")
MAX_RUN_FILE_BYTES = 512 * 2**20   # trials.csv of ~100k trials
_META_KEYS = ("format", "name", "created", "config", "seed", "versions", "reference_point")


def package_versions() -> dict[str, str]:
    """Versions of the packages a result depends on (read from metadata, nothing imported)."""
    versions = {"python": platform.python_version()}
    for package in ("torch", "nni", "nas-sepconv"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def unique_dir(root: str | Path, name: str) -> Path:
    """Create and return ``root/<YYYYmmdd-HHMMSS>-<name>`` (``-2``, ``-3``... if taken)."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", str(name)).strip("-.") or "run"
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    stem = f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}"
    for attempt in range(1, 1000):
        path = root / (stem if attempt == 1 else f"{stem}-{attempt}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise OSError(f"could not create a new directory {stem}-N under '{root}'")


def frontier(rows: Iterable[TrialRecord], reference: ReferencePoint) -> list[TrialRecord]:
    """The non-dominated ok trials under ``reference``'s objectives, by ascending #params.

    Only trials at the run's highest budget count (``top_fidelity``: a multi-fidelity search's
    lower-budget trials are recorded but never on the frontier).

    Duplicated objective vectors are all kept (``pareto_front``); ties in #params go to
    the more accurate first, then by id.
    """
    ok = [row for row in top_fidelity(rows) if row.ok]
    names = [objective.name for objective in reference.objectives]
    if not ok:
        return []
    kept = [ok[i] for i in pareto_front(np.array([row.values(names) for row in ok]), reference.objectives)]
    return sorted(kept, key=lambda row: (row.params, -row.accuracy, row.id))


@dataclass(frozen=True)
class ReferenceArch:
    """A hand-designed architecture (e.g. DARTS_V2, ResNet20) trained with the run's budget."""

    label: str
    params: int
    accuracy: float
    flops: int | None = None
    epochs: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.label, str) or not self.label.strip():
            raise UserError(f"`label` must be a non-empty string, got {self.label!r}.")
        check_positive_int("params", self.params)
        if isinstance(self.accuracy, bool) or not isinstance(self.accuracy, (int, float)) \
                or not 0.0 <= self.accuracy <= 1.0:
            raise UserError(f"`accuracy` must be a fraction in [0, 1], got {self.accuracy!r}.")


def _check_reference(reference: Any) -> ReferencePoint:
    if not isinstance(reference, ReferencePoint):
        raise UserError(f"`reference` must be a ReferencePoint, got {type(reference).__name__}.")
    for objective in reference.objectives:
        if objective.name not in OBJECTIVES:
            raise UserError(f"`reference` objectives must be named {', '.join(OBJECTIVES)}, "
                            f"got {objective.name!r}.")
    return reference


@dataclass(frozen=True)
class RunDir:
    """A validated run directory and its ``config.json`` content (``meta``)."""

    path: Path
    meta: Mapping[str, Any]

    @classmethod
    def create(cls, root: str | Path, name: str, *, config: Mapping[str, Any], seed: int,
               reference: ReferencePoint, box: ReferencePoint | None = None) -> RunDir:
        """Make a new unique run directory under ``root`` and write its ``config.json``
        (``box``: the hypervolume normalisation box, by default ``reference``)."""
        box = _check_reference(reference if box is None else box)
        box_volume(box)
        if box.objectives != reference.objectives:
            raise UserError("`box` must have the objectives of `reference`, got "
                            f"{[o.name for o in box.objectives]} and {[o.name for o in reference.objectives]}.")
        meta = {"format": FORMAT, "name": str(name), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "config": dict(config), "seed": check_positive_int("seed", seed, minimum=0),
                "versions": package_versions(), "reference_point": _check_reference(reference).to_dict(),
                "hypervolume_box": box.to_dict()}
        try:
            text = json.dumps(meta, indent=2, sort_keys=True, allow_nan=False) + "\n"
        except (TypeError, ValueError) as err:
            raise UserError(f"`config` must be plain JSON data, got {err}.") from None
        path = unique_dir(root, name)
        try:
            atomic_write_text(path / CONFIG, text)
        except BaseException:
            path.rmdir()
            raise
        return cls(path, meta)

    @classmethod
    def open(cls, path: str | Path) -> RunDir:
        """Open an existing run; a directory without a valid ``config.json`` is a ValueError."""
        path = Path(path)
        if not path.is_dir():
            raise UserError(f"`run` must be a run directory, got '{path}' (not a directory).")
        config_path = path / CONFIG
        if not config_path.is_file():
            raise UserError(f"`run` must be a run directory, got '{path}' (no {CONFIG}).")
        meta = load_json(config_path, "run config")
        if (not isinstance(meta, dict) or meta.get("format") != FORMAT or not set(_META_KEYS) <= set(meta)
                or not isinstance(meta["config"], dict)):
            raise UserError(f"`run` must be a run directory, got '{path}' ({CONFIG} is not a {FORMAT} "
                            f"file with keys {', '.join(_META_KEYS)}).")
        try:
            _check_reference(ReferencePoint.from_dict(meta["reference_point"]))
        except ValueError as err:
            raise UserError(f"'{config_path}': reference_point: {err}") from None
        return cls(path, meta)

    @property
    def name(self) -> str:
        """The directory's name (timestamp and short name)."""
        return self.path.name

    @property
    def config(self) -> dict[str, Any]:
        return dict(self.meta["config"])

    @property
    def seed(self) -> int:
        return self.meta["seed"]

    @property
    def reference(self) -> ReferencePoint:
        """The declared hypervolume reference point stored with the run."""
        return ReferencePoint.from_dict(self.meta["reference_point"])

    @property
    def box(self) -> ReferencePoint:
        """The box normalising the run's hypervolume (the reference point for older runs)."""
        return ReferencePoint.from_dict(self.meta.get("hypervolume_box", self.meta["reference_point"]))

    def baselines(self) -> list[RunDir]:
        """The baseline runs under ``baselines/`` (``search --baseline``), by name."""
        root = self.path / BASELINES
        if not root.is_dir():
            return []
        return [RunDir.open(p) for p in sorted(root.iterdir()) if (p / CONFIG).is_file()]

    @contextlib.contextmanager
    def lock(self):
        """Hold an exclusive ``flock`` on the run directory itself for a search or resume (no file
        is created); a second one on the same run is refused with one line."""
        import fcntl

        fd = os.open(self.path, os.O_RDONLY)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UserError(f"run '{self.path}' is in use by another search or resume; wait for it to end "
                                f"(one at a time per run).") from None
            yield self
        finally:
            os.close(fd)

    # -- trials and frontier --------------------------------------------------------------
    def write_trials(self, records: Iterable[TrialRecord],
                     genotype_of: Callable[[Any], Architecture] = Genotype.from_sample) -> list[TrialRecord]:
        """Write ``trials.csv`` and the frontier files it implies; return the frontier.

        ``records`` are a strategy's trial records; one without a genotype gets
        ``genotype_of(sample)``; records still 'running' are not evaluated yet and are left out.
        """
        rows = [record.with_genotype(genotype_of) for record in records if record.status in FINISHED]
        ids = [row.id for row in rows]
        if len(set(ids)) != len(ids):
            raise UserError(f"`rows` must have unique ids, got {len(ids) - len(set(ids))} duplicate(s).")
        front = frontier(rows, self.reference)
        pareto = [row.id for row in front]
        atomic_write_text(self.path / TRIALS, rows_to_csv(rows, pareto))
        atomic_write_text(self.path / FRONTIER, rows_to_csv(front, pareto))
        save_genotypes({str(row.id): row.genotype for row in front}, self.path / GENOTYPES)
        return front

    def read_trials(self) -> list[TrialRecord]:
        """Every recorded trial in evaluation order (none before the first is written)."""
        path = self.path / TRIALS
        if not path.is_file():
            return []
        return rows_from_csv(read_text(path, "trials file", max_bytes=MAX_RUN_FILE_BYTES), str(path))

    def genotype(self, trial_id: str | int) -> Architecture:
        """The genotype of any recorded trial (frontier or not) by id."""
        rows = {str(row.id): row for row in self.read_trials()}
        if str(trial_id) not in rows:
            shown = ", ".join(list(rows)[:10]) + (" ..." if len(rows) > 10 else "")
            raise UserError(f"`id` must be a trial id of run '{self.path}' ({shown or 'none recorded'}), "
                            f"got {str(trial_id)!r}.")
        return rows[str(trial_id)].genotype

    # -- reference architectures ----------------------------------------------------------
    def write_references(self, references: Iterable[ReferenceArch]) -> None:
        """Write ``references.csv`` (reference architectures trained with the run's budget)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(REFERENCE_COLUMNS)
        for ref in references:
            writer.writerow(["" if getattr(ref, c) is None else getattr(ref, c) for c in REFERENCE_COLUMNS])
        atomic_write_text(self.path / REFERENCES, buffer.getvalue())

    def read_references(self) -> list[ReferenceArch]:
        path = self.path / REFERENCES
        if not path.is_file():
            return []
        found = []
        for line, rec in enumerate(csv.DictReader(io.StringIO(read_text(path, "references file"))), start=2):
            try:
                found.append(ReferenceArch(rec["label"], int(rec["params"]), float(rec["accuracy"]),
                                           int(rec["flops"]) if rec.get("flops") else None,
                                           int(rec["epochs"]) if rec.get("epochs") else None))
            except (KeyError, TypeError, ValueError) as err:
                raise UserError(f"{path} line {line}: not a reference architecture ({err}).") from None
        return found
