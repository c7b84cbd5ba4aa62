"""Genotype files: one genotype, a run's collection keyed by id, or a shipped name.

File formats read by ``load_genotype``:

* one genotype: the JSON object of ``Genotype.to_dict`` (it has a ``"normal"`` list), or
  of ``ResNetGenotype.to_dict`` (it has ``"kind": "resnet"``) or ``MobileNetGenotype.to_dict``
  (``"kind": "mobilenet"``);
* a collection, as a run writes ``genotypes.json`` with ``save_genotypes``: a JSON object
  mapping each architecture id (a string; ints are written as strings) to such an object,
  ``{"0": {"normal": [...], ...}, "17": {...}}``;
* DARTS reference-code text, ``Genotype(normal=[...], ...)`` (a file not starting with ``{``),
  or a whole third-party ``genotypes.py`` holding several ``NAME = Genotype(...)``, parsed and
  never executed (``darts_text``).

``FILE:NAME`` (or ``id=NAME``) picks one genotype of a ``genotypes.py`` or one id of a
collection. A string that names no existing file is looked up among the named genotypes
(``DARTS_V1``, ``DARTS_V2``, ``PC_DARTS``, ``P_DARTS``, ...; case and ``-``/``_`` do not matter).
"""
from __future__ import annotations

import json
import os
from typing import Any, Mapping

from nas_sepconv.core.errors import UserError, cut_message
from nas_sepconv.core.io import atomic_write_text, parse_json, read_text
from nas_sepconv.genotypes.architecture import ARCHITECTURES, Architecture, architecture_from_dict
from nas_sepconv.genotypes.cell import Genotype
from nas_sepconv.genotypes.darts_text import genotype_names
from nas_sepconv.genotypes.named import ALIASES, NAMED_GENOTYPES


def save_genotypes(genotypes: Mapping[Any, Architecture], path: str | os.PathLike) -> None:
    """Write a collection ``{id: genotype}`` atomically (format in the module docstring)."""
    data = {}
    for key, genotype in genotypes.items():
        if not isinstance(genotype, ARCHITECTURES):
            raise UserError(f"`genotypes[{key!r}]` must be a Genotype, ResNetGenotype or MobileNetGenotype, "
                            f"got {genotype!r}.")
        data[str(key)] = genotype.to_dict()
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def _read(path: str | os.PathLike, name: str | int | None = None) -> Architecture | dict[str, Architecture]:
    """The file's single genotype, or its collection as ``{id: genotype}``; ``name`` picks one
    genotype of a DARTS ``genotypes.py``."""
    text = read_text(path, "genotype file", max_bytes=MAX_GENOTYPE_BYTES)
    try:
        if not text.lstrip().startswith(("{", "[")):
            return _read_darts(text, None if name is None else str(name))
        data = parse_json(text, f"genotype file '{os.fspath(path)}'")
        if not isinstance(data, dict):
            raise UserError(f"`file` must hold a JSON object, got {text.strip()[:80]!r}.")
        if isinstance(data.get("normal"), list) or "kind" in data:
            if name is not None:
                raise UserError(f"`id` must be None for a file holding a single genotype, got {name!r}.")
            return architecture_from_dict(data)
        if not data:
            raise UserError("`genotypes` must hold at least one genotype, got {}.")
        return {key: _entry(key, value) for key, value in data.items()}
    except RecursionError:
        raise UserError(f"genotype file '{os.fspath(path)}' is nested too deeply to be a genotype.") from None
    except UserError as err:
        if str(err).startswith("genotype file '"):
            raise
        raise UserError(f"{os.fspath(path)}: {cut_message(err)}") from None
    except ValueError as err:
        raise UserError(f"{os.fspath(path)}: {cut_message(err)}") from None


#: A run's genotypes.json of thousands of trials is a few MB.
MAX_GENOTYPE_BYTES = 64 * 2**20


def _read_darts(text: str, name: str | None) -> Genotype:
    """One genotype of DARTS text: the only one, or ``name`` of a module of several."""
    if name is None:
        names = genotype_names(text)
        if len(names) > 1:
            raise UserError(f"the file holds {len(names)} genotypes; pick one as FILE:NAME with NAME one of "
                             f"{', '.join(names)}.")
        if len(names) == 1 and len(_statements(text)) > 1:
            name = names[0]
    return Genotype.from_darts(text, name=name)


def _statements(text: str) -> list:
    import ast

    return ast.parse(text.strip()).body


def _entry(key: str, value: Any) -> Architecture:
    try:
        return architecture_from_dict(value)
    except ValueError as err:
        raise UserError(f"genotype {key[:40]!r}: {cut_message(err)}") from None


def load_genotypes(path: str | os.PathLike) -> dict[str, Architecture]:
    """Every genotype of a collection file, keyed by id."""
    found = _read(path)
    if not isinstance(found, dict):
        raise UserError(f"`path` must be a collection of genotypes keyed by id, got a single genotype in "
                         f"{os.fspath(path)!r}.")
    return found


def load_genotype(path_or_name: str | os.PathLike, id: str | int | None = None) -> Architecture:
    """Load one genotype from a file (``id`` picks one of a collection) or by name.

    A ResNet-space run's file holds ``ResNetGenotype``s; anything else gives a ``Genotype``.
    ``id`` may be left out when the collection holds exactly one genotype.
    """
    if not isinstance(path_or_name, (str, os.PathLike)):
        raise UserError(f"`path_or_name` must be a file path or a genotype name, got {path_or_name!r}.")
    path_or_name, id = _split_selector(path_or_name, id)
    if not os.path.isfile(path_or_name):
        if id is not None:
            raise UserError(f"`path_or_name` must be an existing file when `id` is given, got {path_or_name!r}.")
        return named_genotype(path_or_name)
    found = _read(path_or_name, id)
    if not isinstance(found, dict):
        return found
    if id is None and len(found) == 1:
        return next(iter(found.values()))
    if str(id) not in found:
        ids = sorted(found)
        shown = ", ".join(ids[:10]) + (f", ... ({len(ids)} in all)" if len(ids) > 10 else "")
        raise UserError(f"`id` must be one of {shown} in {os.fspath(path_or_name)!r}, got {id!r}.")
    return found[str(id)]


def _split_selector(path: str | os.PathLike, id: str | int | None) -> tuple[str | os.PathLike, str | int | None]:
    """``FILE:NAME`` (no such file, but FILE exists) as ``(FILE, NAME)``; anything else unchanged."""
    text = os.fspath(path)
    file, sep, name = text.rpartition(":")
    if not sep or not file or not name or os.path.isfile(text) or not os.path.isfile(file):
        return path, id
    if id is not None:
        raise UserError(f"`id` must be None when `path_or_name` selects one as FILE:NAME, got {id!r}.")
    return file, name


def named_genotype(name: Any) -> Genotype:
    """A shipped genotype by name, e.g. ``"DARTS_V2"`` or ``"darts-v2"`` (also the authors' spellings
    ``PDARTS``, ``PCDARTS``, ``SNAS``, ``DARTS``)."""
    key = name.upper().replace("-", "_") if isinstance(name, str) else None
    key = ALIASES.get(key, key)
    if key not in NAMED_GENOTYPES:
        raise UserError(f"`path_or_name` must be an existing genotype file or one of "
                         f"{', '.join(NAMED_GENOTYPES)}, got {name!r}.")
    return NAMED_GENOTYPES[key]
