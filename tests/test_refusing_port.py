"""The tests' unreachable address: refused at once, and no other server can take it while a test holds it."""

from __future__ import annotations

import errno
import socket

import pytest

from tests.procs import refusing_port


def test_a_held_port_refuses_connections_and_cannot_be_taken_by_another_server() -> None:
    with refusing_port() as port:
        with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        with socket.socket() as other, pytest.raises(OSError) as taken:
            other.bind(("127.0.0.1", port))
        assert taken.value.errno == errno.EADDRINUSE
