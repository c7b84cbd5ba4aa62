"""Bad input exits 2 with one line; a bug exits 1 with its traceback (never disguised as bad input)."""
import pytest

from nas_sepconv.cli import costs, main
from nas_sepconv.core.errors import UserError
from nas_sepconv.core.validation import check_positive_int


def test_user_error_is_a_value_error_so_the_api_contract_holds():
    with pytest.raises(ValueError, match=r"`width` must be an integer >= 1, got 0\."):
        check_positive_int("width", 0)
    with pytest.raises(UserError):
        check_positive_int("width", 0)


def test_bad_input_exits_2_with_one_line(capsys, tmp_path):
    assert main(["costs", "--ops", "nope", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("nas-sepconv costs: error: `--ops` must name registered ops")


@pytest.mark.parametrize("bug", [KeyError("x"), ValueError("a library's own ValueError"), ZeroDivisionError()])
def test_an_internal_error_exits_1_with_its_traceback(monkeypatch, capsys, tmp_path, bug):
    def broken(*args, **kwargs):
        raise bug

    monkeypatch.setattr(costs, "cost_rows", broken)
    assert main(["costs", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and type(bug).__name__ in err
    assert err.rstrip().endswith("nas-sepconv costs: internal error (the traceback above); please report it")
