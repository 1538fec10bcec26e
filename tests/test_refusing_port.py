"""The tests' ports: an unreachable one no other server can take, and a free one no outgoing connection takes."""

from __future__ import annotations

import errno
import socket
from pathlib import Path

import pytest

from tests.procs import FREE_PORTS, free_port, refusing_port


def test_a_held_port_refuses_connections_and_cannot_be_taken_by_another_server() -> None:
    with refusing_port() as port:
        with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        with socket.socket() as other, pytest.raises(OSError) as taken:
            other.bind(("127.0.0.1", port))
        assert taken.value.errno == errno.EADDRINUSE


def _ephemeral_ports() -> range:
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except OSError:  # not Linux: the IANA dynamic range
        low, high = 49152, 65535
    return range(low, high + 1)


def test_a_free_port_lies_outside_the_ports_outgoing_connections_take() -> None:
    ephemeral = _ephemeral_ports()
    ports = {free_port() for _ in range(20)}
    assert all(port in FREE_PORTS and port not in ephemeral for port in ports)
    assert len(ports) > 1  # picked at random, so that tests running side by side rarely meet
    with socket.socket() as listener:  # and free: the process it is for can listen on it
        listener.bind(("127.0.0.1", ports.pop()))
        listener.listen()
