"""Callback URLs and the prefixes that allow them, compared part by part after parsing.

A result names the applicant, so it may only go where the district allowed.
A string prefix cannot say that: ``http://127.0.0.1:@127.0.0.2:8768/stolen``
starts with ``http://127.0.0.1:`` and goes to 127.0.0.2. So a callback URL
and each configured prefix are parsed the same strict way into scheme, host,
port and path, and compared by those parts, with the path compared up to a
``/`` boundary.

Parsing normalises what is unambiguous (scheme and host case, IDNA for
internationalised hosts, the default port, the hex case of percent escapes)
and refuses what parsers are known to read differently: userinfo (``@``),
backslashes, control characters and spaces, dot segments (also escaped),
escaped ``/`` or ``\\``, numeric hosts in anything but dotted-quad form
(``127.1``, ``0x7f.0.0.1``, ``2130706433``), a trailing dot, fragments, and
any text that :func:`urllib.parse.urlsplit` and :mod:`yarl` (the HTTP
client's parser) do not read the same way. What is stored and later
called is the normalised URL, never the text as sent.

A prefix ends with ``/`` and may use ``*`` as its port: ``http://127.0.0.1:*/``
is any port on loopback.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import idna
import yarl

from gateway.errors import UnsafeCallbackUrl

MAX_CALLBACK_URL_LENGTH = 2000
ANY_PORT = None
_DEFAULT_PORTS = {"http": 80, "https": 443}
_PRINTABLE_ASCII = re.compile(r"^[\x21-\x7e]*$")
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_PCHARS = re.compile(r"^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*$")
_QUERY_CHARS = re.compile(r"^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*$")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


@dataclass(frozen=True)
class CallbackTarget:
    """A callback URL, parsed and normalised."""

    scheme: str
    host: str
    port: int
    path: str
    query: str = ""

    @property
    def url(self) -> str:
        """The normalised URL: what is stored, compared and called."""
        netloc = self.host if self.port == _DEFAULT_PORTS[self.scheme] else f"{self.host}:{self.port}"
        return urlunsplit((self.scheme, netloc, self.path, self.query, ""))


@dataclass(frozen=True)
class CallbackPrefix:
    """Where a caller's callbacks may go: a scheme, a host, a port (or any), and a path ending in ``/``."""

    scheme: str
    host: str
    port: int | None
    path: str

    def allows(self, target: CallbackTarget) -> bool:
        """Whether ``target`` is under this prefix: same scheme, host and port, path below ours."""
        return (
            target.scheme == self.scheme
            and target.host == self.host
            and (self.port is ANY_PORT or target.port == self.port)
            and target.path.startswith(self.path)
        )

    def __str__(self) -> str:
        port = "*" if self.port is ANY_PORT else str(self.port)
        netloc = self.host if self.port == _DEFAULT_PORTS[self.scheme] else f"{self.host}:{port}"
        return urlunsplit((self.scheme, netloc, self.path, "", ""))


def parse_callback_url(text: str) -> CallbackTarget:
    """``text`` as a callback target; :class:`UnsafeCallbackUrl` saying why when it is not one."""
    scheme, host, port, path, query = _parse(text, prefix=False)
    assert port is not None  # only a prefix may leave the port open
    return _cross_checked(CallbackTarget(scheme, host, port, path, query))


def parse_callback_prefix(text: str) -> CallbackPrefix:
    """``text`` as a configured prefix (``https://host/path/``, ``http://127.0.0.1:*/``)."""
    scheme, host, port, path, query = _parse(text, prefix=True)
    if query:
        raise UnsafeCallbackUrl("has a query, which a prefix cannot have")
    if not text.endswith("/"):  # as written: "https://host" means the whole host, but should say so
        raise UnsafeCallbackUrl(f"does not end at a path boundary ('/'): write {text + '/'!r}")
    return CallbackPrefix(scheme, host, port, path)


def allowed(target: CallbackTarget, prefixes: tuple[CallbackPrefix, ...]) -> bool:
    """Whether any of ``prefixes`` allows ``target``."""
    return any(prefix.allows(target) for prefix in prefixes)


def _parse(text: str, *, prefix: bool) -> tuple[str, str, int | None, str, str]:
    if len(text) > MAX_CALLBACK_URL_LENGTH:
        raise UnsafeCallbackUrl(f"longer than {MAX_CALLBACK_URL_LENGTH} characters")
    if any(char.isspace() or not char.isprintable() for char in text):
        raise UnsafeCallbackUrl("holds control characters or spaces")
    if "\\" in text:
        raise UnsafeCallbackUrl("holds a backslash")
    scheme_text, sep, rest = text.partition("://")
    scheme = scheme_text.lower()
    if not sep or scheme not in _DEFAULT_PORTS:
        raise UnsafeCallbackUrl("is not an http:// or https:// URL")
    parts = urlsplit(text)
    if urlunsplit(parts) != scheme + sep + rest or parts.netloc == "":
        raise UnsafeCallbackUrl("is not in a plain scheme://host/path form")
    if parts.fragment or "#" in text:
        raise UnsafeCallbackUrl("has a fragment")
    if "@" in parts.netloc:
        raise UnsafeCallbackUrl("names a user (userinfo before '@')")
    host_text, port_text = _split_netloc(parts.netloc)
    for piece in (parts.path, parts.query):
        if not piece.isascii() or not _PRINTABLE_ASCII.match(piece):
            raise UnsafeCallbackUrl("holds characters that must be percent-encoded")
    return (
        scheme,
        _host(host_text),
        _port(port_text, scheme, prefix=prefix),
        _path(parts.path),
        _query(parts.query),
    )


def _split_netloc(netloc: str) -> tuple[str, str | None]:
    """``host`` and the port text (None when there is no ``:``)."""
    if netloc.startswith("["):
        host, bracket, after = netloc.partition("]")
        if not bracket or (after and not after.startswith(":")):
            raise UnsafeCallbackUrl("has a malformed IPv6 address")
        return host + "]", after[1:] if after else None
    if ":" not in netloc:
        return netloc, None
    host, _, port = netloc.rpartition(":")
    return host, port


def _host(text: str) -> str:
    if not text:
        raise UnsafeCallbackUrl("has no host")
    if "%" in text:
        raise UnsafeCallbackUrl("has a percent-encoded host")
    if text.startswith("["):
        try:
            address = ipaddress.IPv6Address(text[1:-1])
        except ValueError:
            raise UnsafeCallbackUrl("has a malformed IPv6 address") from None
        return f"[{address.compressed}]"
    if text.endswith("."):
        raise UnsafeCallbackUrl("has a host ending in a dot")
    try:
        host = text.lower() if text.isascii() and "xn--" not in text.lower() else _idna(text)
    except idna.IDNAError:
        raise UnsafeCallbackUrl("has a host that is not a valid internationalised domain name") from None
    labels = host.split(".")
    if _NUMERIC_LABEL.match(labels[-1]):
        try:
            if str(ipaddress.IPv4Address(host)) == host:
                return host
        except ValueError:
            pass
        raise UnsafeCallbackUrl("has a numeric host that is not a plain dotted-quad IPv4 address")
    if not all(_LABEL.match(label) for label in labels):
        raise UnsafeCallbackUrl("has a host that is not a valid domain name")
    return host


def _idna(text: str) -> str:
    host = idna.encode(text, uts46=True).decode("ascii")
    if text.isascii() and host != text.lower():
        raise idna.IDNAError("an A-label that is not in its canonical form")
    return host


def _port(text: str | None, scheme: str, *, prefix: bool) -> int | None:
    if text is None:
        return _DEFAULT_PORTS[scheme]
    if prefix and text == "*":
        return ANY_PORT
    if not text:
        hint = " (write ':*' for any port)" if prefix else ""
        raise UnsafeCallbackUrl(f"has an empty port{hint}")
    if not text.isdigit() or not text.isascii() or text != str(int(text)) or not 0 < int(text) < 65536:
        raise UnsafeCallbackUrl("has a port that is not a number from 1 to 65535")
    return int(text)


def _unescaped(text: str) -> str:
    """Percent escapes with upper-case hex; escapes of unreserved characters, ``/`` and ``\\`` are refused."""

    def check(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        if char in _UNRESERVED or char in "/\\":
            raise UnsafeCallbackUrl(f"percent-encodes {char!r}, which must be written plainly")
        return "%" + match.group(1).upper()

    return _ESCAPE.sub(check, text)


def _path(text: str) -> str:
    if not _PCHARS.match(text):
        raise UnsafeCallbackUrl("has a path with characters that must be percent-encoded")
    path = _unescaped(text) or "/"
    if any(segment in (".", "..") for segment in path.split("/")):
        raise UnsafeCallbackUrl("has '.' or '..' path segments")
    return path


def _query(text: str) -> str:
    if not _QUERY_CHARS.match(text):
        raise UnsafeCallbackUrl("has a query with characters that must be percent-encoded")
    return _ESCAPE.sub(lambda m: "%" + m.group(1).upper(), text)


def _cross_checked(target: CallbackTarget) -> CallbackTarget:
    """Refuse a target the HTTP client's own URL parser would read differently."""
    url = yarl.URL(target.url, encoded=True)
    if (url.scheme, url.raw_host, url.port, url.raw_path, url.raw_query_string) != (
        target.scheme,
        target.host.strip("[]"),
        target.port,
        target.path,
        target.query,
    ):
        raise UnsafeCallbackUrl("is read differently by the HTTP client")
    return target
