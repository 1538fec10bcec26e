"""How much the HTTP server lets one client hold: time to send, connections, JSON shape.

A client that sends its headers or body a byte a second, or announces more
body than it sends, would otherwise hold a connection for as long as it
likes; a few hundred of them hold the gateway. These limits bound each such
client, and are read from ``[server]`` with the rest of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.config.values import get_value, positive
from gateway.errors import ConfigError


@dataclass(frozen=True)
class HttpLimits:
    """Per-connection limits of the HTTP server (``[server]``)."""

    header_timeout_s: float = 15.0  # from connecting (or the previous answer) to a complete request head
    body_timeout_s: float = 60.0  # from the request head to the last byte of the body
    max_connections_per_address: int = 64  # open connections from one client address; 0 = no cap
    max_json_depth: int = 32  # nesting of arrays and objects in a JSON body
    max_json_members: int = 10000  # object members in one JSON body, all objects together


def parse_http_limits(server: Mapping[str, Any]) -> HttpLimits:
    """The limits in the ``[server]`` table, each checked (missing ones take the defaults)."""
    defaults = HttpLimits()
    values: dict[str, Any] = {}
    for name in ("header_timeout_s", "body_timeout_s"):
        values[name] = positive(get_value(server, name, float, "server", getattr(defaults, name)), f"server.{name}")
    for name in ("max_json_depth", "max_json_members"):
        values[name] = int(positive(get_value(server, name, int, "server", getattr(defaults, name)), f"server.{name}"))
    cap = get_value(server, "max_connections_per_address", int, "server", defaults.max_connections_per_address)
    if cap < 0:
        raise ConfigError("server.max_connections_per_address: must be 0 (no cap) or more")
    values["max_connections_per_address"] = cap
    return HttpLimits(**values)
