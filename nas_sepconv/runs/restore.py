"""Restoring a search's strategy before anything of the run is written: resume loses no data.

``restore_strategy`` is called by ``run_search`` before the first trial and before any file is
rewritten. With a ``strategy.json``, the checkpoint is read (bounded), loaded into the strategy
and checked against ``trials.csv``: a checkpoint that is not one (empty, ``{}``, ``[]``, binary,
truncated) or that was written with other settings than ``config.json`` now holds is refused
with one line, and no file changes; finished trials of ``trials.csv`` the checkpoint lacks
(written after it) are added to it.
Without a checkpoint, the finished trials of ``trials.csv`` are handed to the strategy
(``MultiObjectiveStrategy.rebuild``) so that none is trained again.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.io import load_json
from nas_sepconv.evaluation.record import RUNNING, TrialRecord
from nas_sepconv.genotypes.cell import Genotype
from nas_sepconv.runs.run_dir import STRATEGY_STATE, TRIALS, RunDir
from nas_sepconv.runs.strategy_registry import find_strategy

STATE_KEYS = ("version", "archive", "generation", "planned", "next_id", "rng")


def read_checkpoint(run: RunDir) -> dict[str, Any] | None:
    """The strategy checkpoint of ``run`` (``None`` if there is none); not one is a UserError."""
    path = run.path / STRATEGY_STATE
    if not path.exists():
        return None
    state = load_json(path, "checkpoint")
    if not isinstance(state, dict) or not set(STATE_KEYS) <= set(state):
        got = type(state).__name__ if not isinstance(state, dict) else f"keys {sorted(state)[:8]}"
        raise UserError(f"checkpoint '{path}' is not a strategy checkpoint (it must be a JSON object with keys "
                        f"{', '.join(STATE_KEYS)}, got {got}); delete it to rebuild the run from {TRIALS}.")
    return state


def restore_strategy(strategy: Any, run: RunDir, space: Any) -> int:
    """Load ``run``'s checkpoint (or its trials) into ``strategy``; return the finished-trial count
    that the run's files already hold (a resume never writes fewer)."""
    rows = run.read_trials()
    _check_trials_settings(rows, run)
    state = read_checkpoint(run)
    if state is None:
        if rows:
            strategy.rebuild([_record_of(row, space) for row in rows])
        return len(rows)
    path = run.path / STRATEGY_STATE
    try:
        strategy.load_state_dict(state)
    except UserError as err:
        raise UserError(f"checkpoint '{path}': {err}") from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as err:
        raise UserError(f"checkpoint '{path}' is not a valid strategy checkpoint ({type(err).__name__}: "
                        f"{str(err)[:80]}); delete it to rebuild the run from {TRIALS}.") from None
    known = {record.id for record in strategy.archive.records if record.status != RUNNING}
    missing = [row for row in rows if row.id not in known]
    if missing:  # trials.csv was written after the last checkpoint (a kill or a full disk in between)
        strategy.merge([_record_of(row, space) for row in missing])
    return len(rows)


def _check_trials_settings(rows: list[TrialRecord], run: RunDir) -> None:
    """The recorded trials must have been trained with the seed and epochs ``config.json`` says."""
    config: Mapping[str, Any] = run.config
    # trials at budgets up to `epochs`: multi-fidelity rungs, or one-shot scores (epochs 0, inherited weights)
    spec = find_strategy(config.get("strategy"))
    lower_ok = spec is not None and spec.partial_epochs
    for name in ("seed", "epochs"):
        want = config.get(name)
        other = sorted({getattr(row, name) for row in rows if getattr(row, name) not in (None, want)
                        and not (lower_ok and name == "epochs" and want is not None and getattr(row, name) < want)})
        if want is not None and other:
            raise UserError(f"config.json of '{run.path}' says {name} {want!r} but {TRIALS} holds trials with "
                            f"{name} {', '.join(map(str, other[:3]))}; resuming would mix them in one run "
                            f"(undo the edit of config.json, or start a new search).")


def _record_of(row: TrialRecord, space: Any) -> TrialRecord:
    """A strategy record of a ``trials.csv`` row: the duplicate key, and the NNI sample where the
    space gives back the same genotype for it (cell genotypes), so it can be a parent."""
    key = row.genotype.to_json(indent=None)
    sample: dict[str, Any] = {}
    if isinstance(row.genotype, Genotype):
        full = row.genotype.to_sample()
        for candidate in ({k: v for k, v in full.items() if k not in ("width", "depth")}, full):
            try:
                fits = getattr(space, "check_contains", lambda s: None)(candidate) is None
                if fits and space.genotype(candidate).to_json(indent=None) == key:
                    sample = candidate
                    break
            except (ValueError, KeyError, TypeError):
                continue
    return replace(row, sample=sample, key=key)
