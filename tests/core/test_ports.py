"""The ts engine's port: a free one picked by binding port 0, an explicit one checked free."""
import socket

import pytest

from nas_sepconv.core.errors import UserError
from nas_sepconv.core.ports import check_port, check_port_free, free_port, port_in_use, portal_port, portal_url


def _listening():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def test_free_port_is_unprivileged_and_bindable():
    port = free_port()
    assert 1024 <= port <= 65535 and not port_in_use(port)
    with socket.socket() as sock:
        sock.bind(("", port))  # nothing holds it on any interface
    assert portal_port(0) >= 1024 and portal_url(port) == f"http://localhost:{port}"


def test_a_listening_port_is_in_use_and_refused_with_one_line():
    with _listening() as sock:
        port = sock.getsockname()[1]
        assert port_in_use(port)
        with pytest.raises(UserError, match=rf"^`--port` {port} is in use .*leave `--port` out for a free one\.$"):
            check_port_free("--port", port)
        with pytest.raises(UserError, match=f"`port` {port} is in use"):
            portal_port(port)
    assert not port_in_use(port) and portal_port(port) == port


@pytest.mark.parametrize("value", [80, 1023, 65536, -1, True, "8080", 8080.0])
def test_check_port_refuses_privileged_and_out_of_range_values(value):
    with pytest.raises(UserError, match=r"`port` must be an integer in \[1024, 65535\], or 0 for a free port"):
        check_port("port", value)


def test_check_port_accepts_zero_and_unprivileged_ports():
    assert check_port("port", 0) == 0 and check_port("port", 1024) == 1024 and check_port("port", 65535) == 65535
