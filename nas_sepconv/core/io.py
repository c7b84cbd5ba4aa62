"""Atomic file writes and bounded reads.

Each writer writes a temporary file in the target's directory, flushes it to disk and
renames it over the target (``os.replace`` is atomic on POSIX within one file system): a kill
mid-write never leaves a half-written result file. The file gets the mode a plain ``open``
would give it (0666 less the umask), not ``mkstemp``'s private 0600. ``clean_stale_tmp``
removes the temporary files a killed writer left.

Readers of files a user hands over (``read_text``, ``load_json``) refuse files over a size
limit, text that is not UTF-8 and JSON nested too deeply, with one line naming the file.
"""
from __future__ import annotations

import glob
import json
import os
import tempfile
import time
from pathlib import Path
from typing import IO, Any, Callable, Iterable

from nas_sepconv.core.errors import UserError

#: Largest file a reader accepts unless told otherwise (genotypes, configs, run files).
MAX_READ_BYTES = 64 * 2**20
TMP_SUFFIX = ".tmp"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, write: Callable[[IO], Any], *, binary: bool = False) -> Path:
    """Call ``write(fileobj)`` on a temporary file, then atomically move it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Atomically write ``text`` (UTF-8) to ``path``."""
    return atomic_write(path, lambda fh: fh.write(text))


def atomic_write_json(path: str | os.PathLike, data: Any) -> Path:
    """Atomically write ``data`` as indented, key-sorted JSON to ``path``."""
    return atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def clean_stale_tmp(folder: str | os.PathLike, names: Iterable[str] | None = None,
                    min_age: float = 60.0) -> list[Path]:
    """Remove the ``.NAME.*.tmp`` files that writers killed mid-write left in ``folder`` (only
    those of ``names`` if given, and only older than ``min_age`` seconds, so that a writer still
    running keeps its own); return them."""
    patterns = [f".*{TMP_SUFFIX}"] if names is None else [f".{glob.escape(n)}.*{TMP_SUFFIX}" for n in names]
    removed = []
    for pattern in patterns:
        for tmp in Path(folder).glob(pattern):
            try:
                if tmp.is_file() and time.time() - tmp.stat().st_mtime >= min_age:
                    tmp.unlink()
                    removed.append(tmp)
            except FileNotFoundError:
                continue
    return removed


def cut(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to about ``limit`` characters, for echoing a value in an error."""
    text = value if isinstance(value, str) and value.startswith(("'", '"')) else repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def read_text(path: str | os.PathLike, what: str = "file", *, max_bytes: int = MAX_READ_BYTES) -> str:
    """The UTF-8 text of ``path``; a file over ``max_bytes`` or not UTF-8 is a one-line UserError."""
    path = Path(path)
    with open(path, "rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UserError(f"{what} '{path}' is larger than the {max_bytes // 2**20} MiB allowed.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UserError(f"{what} '{path}' is not UTF-8 text (byte {err.start}: {data[err.start:err.start + 1]!r}).") \
            from None


def parse_json(text: str, source: str) -> Any:
    """``json.loads(text)``; invalid or too deeply nested JSON is a one-line UserError naming ``source``."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise UserError(f"{source} is not valid JSON ({err.msg}: line {err.lineno} column {err.colno}).") from None
    except RecursionError:
        raise UserError(f"{source} is nested too deeply to be read.") from None


def load_json(path: str | os.PathLike, what: str = "file", *, max_bytes: int = MAX_READ_BYTES) -> Any:
    """The JSON value of a file a user handed over (bounded size and depth, one-line errors)."""
    return parse_json(read_text(path, what, max_bytes=max_bytes), f"{what} '{path}'")


def load_weights(path: str | os.PathLike) -> Any:
    """A ``torch.save``d state_dict read with ``weights_only=True`` (tensors and plain
    containers only), so a planted pickle cannot run code; onto the CPU."""
    import pickle

    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise UserError(f"'{path}' is not a weights file readable without running code ({cut(first, 120)}).") \
            from None
