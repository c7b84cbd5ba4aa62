"""The error type of bad user input.

Every validation in the package raises :class:`UserError`. It is a ``ValueError``, so the API's
contract ("bad input raises ValueError") holds, and the CLI can tell bad input (one line, exit 2)
from a bug (exit 1 with the traceback), which a plain ``ValueError`` from deep inside a library
would blur.
"""


def cut_message(err: BaseException | str, limit: int = 1500) -> str:
    """An error's message on one line, cut to ``limit`` characters (a hostile file's values are
    echoed in messages; a 50 MB key must not become a 50 MB line)."""
    text = " ".join(str(err).splitlines())
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


class UserError(ValueError):
    """Bad input: the message names the argument in backticks, its value and what is allowed."""


class Interrupted(Exception):
    """A search stopped by Ctrl-C: its finished trials are saved, the command exits 130."""

    def __init__(self, trials: int, run: str) -> None:
        super().__init__(f"interrupted after {trials} trials; resume with: nas-sepconv resume {run}")
        self.trials, self.run = trials, run
