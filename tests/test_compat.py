"""The 0.1 module paths still import, for one release, with a DeprecationWarning naming the new home."""
import importlib
import importlib.util
import sys
import warnings
from pathlib import Path

import pytest

from nas_sepconv._compat import MOVED


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_path_warns_and_gives_the_new_modules_objects(old):
    sys.modules.pop(old, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    assert any(issubclass(w.category, DeprecationWarning) and MOVED[old] in str(w.message) for w in caught)
    new = importlib.import_module(MOVED[old])
    public = [name for name in vars(new) if not name.startswith("_")]
    assert public and all(getattr(module, name) is getattr(new, name) for name in public)


def test_no_old_path_is_still_a_file_of_its_own():
    root = Path(__file__).resolve().parents[1]
    assert [old for old in MOVED if (root / (old.replace(".", "/") + ".py")).exists()] == []
    assert all(importlib.util.find_spec(new) is not None for new in MOVED.values())
