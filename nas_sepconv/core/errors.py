"""The error type of bad user input.

Every validation in the package raises :class:`UserError`. It is a ``ValueError``, so the API's
contract ("bad input raises ValueError") holds, and the CLI can tell bad input (one line, exit 2)
from a bug (exit 1 with the traceback), which a plain ``ValueError`` from deep inside a library
would blur.
"""


class UserError(ValueError):
    """Bad input: the message names the argument in backticks, its value and what is allowed."""


class Interrupted(Exception):
    """A search stopped by Ctrl-C: its finished trials are saved, the command exits 130."""

    def __init__(self, trials: int, run: str) -> None:
        super().__init__(f"interrupted after {trials} trials; resume with: nas-sepconv resume {run}")
        self.trials, self.run = trials, run
