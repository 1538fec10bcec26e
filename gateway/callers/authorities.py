"""The hosts a signed request may name: this gateway's, never another's.

A signature covers the host the caller sent the request to (``@target-uri``
or ``@authority``), but the gateway rebuilds that host from the request's own
``Host`` header, which whoever sends the request chooses. Unless the gateway
also checks the host is one of its own, a request captured on the way to
another gateway that knows the same key (a staging copy restored from a
backup of this store, with nonces of its own) verifies here too, with the
captured ``Host``. Ours are: the authority of ``server.public_url``, the
address the request arrived at (``localhost`` too when that is a loopback
address), and ``[authentication] authorities``. Hosts compare parsed --
lower case, a port that is its scheme's default dropped -- never as text.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from aiohttp import web
from yarl import URL

DEFAULT_PORTS = {"http": 80, "https": 443}

#: A host, and its port unless it is the default one of the scheme it was named with.
Authority = tuple[str, int | None]


def authority_of(url: URL) -> Authority | None:
    """``url``'s host and port, compared the way a browser would (None when it has no host)."""
    host = url.host
    if not host:
        return None
    port = url.explicit_port
    return host.lower().rstrip("."), None if port == DEFAULT_PORTS.get(url.scheme) else port


def configured_authority(text: str) -> Authority:
    """``host`` or ``host:port`` from the configuration; ValueError when it is not one."""
    if "/" in text or "@" in text or not text.strip() or text != text.strip():
        raise ValueError(f"not a host[:port]: {text!r}")
    found = authority_of(URL.build(scheme="http", authority=text))
    if found is None:
        raise ValueError(f"not a host[:port]: {text!r}")
    return found


class GatewayAuthorities:
    """Whether the host a request names is this gateway's."""

    def __init__(self, public_url: str, extra: Iterable[str] = ()) -> None:
        known = [authority_of(URL(public_url))] if public_url else []
        known += [configured_authority(text) for text in extra]
        self.known = frozenset(a for a in known if a is not None)

    def ours(self, request: web.Request, url: URL) -> bool:
        """Whether ``url`` (the request's, rebuilt from its ``Host``) names this gateway."""
        named = authority_of(url)
        return named is not None and (named in self.known or named in _arrived_at(request, url.scheme))


def _arrived_at(request: web.Request, scheme: str) -> set[Authority]:
    """The address the connection reached, as a host a caller may have used."""
    sockname = request.transport.get_extra_info("sockname") if request.transport is not None else None
    if not isinstance(sockname, tuple) or len(sockname) < 2:
        return set()
    host, port = str(sockname[0]).lower(), int(sockname[1])
    shown_port = None if port == DEFAULT_PORTS.get(scheme) else port
    found: set[Authority] = {(host, shown_port)}
    try:
        if ipaddress.ip_address(host).is_loopback:
            found.add(("localhost", shown_port))
    except ValueError:
        pass
    return found
