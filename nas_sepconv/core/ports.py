"""The TCP port of NNI's manager and web portal on the training-service (ts) engine.

NNI 3.0 listens on every interface at the port it is given (8080 unless told otherwise; it has
no host option). ``search --port`` / ``resume --port`` (and the ``port`` setting) choose it:
0 or nothing picks a free port when the search starts (``free_port``), so two ts searches can
run at once; an explicit port must be free (``check_port_free``), else a one-line error.
"""
from __future__ import annotations

import errno
import numbers
import socket
from typing import Any

from nas_sepconv.core.errors import UserError

#: Ports a user may give: the unprivileged ones; 0 means "a free one".
MIN_PORT, MAX_PORT = 1024, 65535


def check_port(name: str, value: Any) -> int:
    """``value`` if it is 0 (a free port) or an integer in [``MIN_PORT``, ``MAX_PORT``]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
            or not (value == 0 or MIN_PORT <= value <= MAX_PORT):
        text = repr(value) if len(repr(value)) <= 80 else repr(value)[:80] + "..."
        raise UserError(f"`{name}` must be an integer in [{MIN_PORT}, {MAX_PORT}], or 0 for a free port, "
                        f"got {text}.")
    return int(value)


def free_port() -> int:
    """A TCP port no socket uses now on any interface: bound as port 0, read back, closed."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("", 0))
        return probe.getsockname()[1]


def port_in_use(port: int) -> bool:
    """Whether something listens on ``port`` at localhost (NNI's own test) or holds it on an interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
        client.settimeout(1.0)
        if client.connect_ex(("localhost", port)) == 0:
            return True
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as NNI's node server binds
        try:
            probe.bind(("", port))
        except OSError as err:
            return err.errno in (errno.EADDRINUSE, errno.EACCES)
    return False


def check_port_free(name: str, port: int) -> int:
    """``port`` if nothing holds it, else a one-line error naming ``name`` and the port."""
    if port_in_use(port):
        raise UserError(f"`{name}` {port} is in use (another NNI experiment or program listens on it); give "
                        f"another port, or leave `{name}` out for a free one.")
    return port


def portal_port(port: int, name: str = "port") -> int:
    """The port a ts search starts NNI on: ``port`` checked free, or a free one for 0."""
    return free_port() if check_port(name, port) == 0 else check_port_free(name, port)


def portal_url(port: int) -> str:
    """The web portal's address on this machine (it also listens on every other interface)."""
    return f"http://localhost:{port}"
