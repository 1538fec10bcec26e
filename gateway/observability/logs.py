"""Structured JSON logs with personal data masked on every line.

Logs leave the gateway (to files, collectors, screenshots in chat groups);
personal data must not. A structlog processor masks resident ID numbers,
credit codes and phone numbers wherever they appear, masks the values of
name fields, and masks the names of the applicant currently being served
wherever a plugin or library happens to log them.
"""

from __future__ import annotations

import contextlib
import json as stdlib_json
import logging
import sys
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from contextvars import ContextVar
from typing import Any, TextIO

import orjson
import structlog

from gateway.observability.line_writer import LineLoggerFactory, LineWriter
from gateway.personal_data.masking import is_digest, mask_name, mask_text

NAME_KEYS = frozenset({"name", "applicant_name", "operator_name", "signed_by", "holder_name"})
_sensitive: ContextVar[tuple[str, ...]] = ContextVar("onewindow_sensitive", default=())


@contextlib.contextmanager
def sensitive(values: Iterable[str | None]) -> Iterator[None]:
    """Mask these exact strings (e.g. the applicant's name) on every line logged inside."""
    extra = tuple(v for v in values if v and len(v) >= 2)
    token = _sensitive.set(_sensitive.get() + extra)
    try:
        yield
    finally:
        _sensitive.reset(token)


def personal_values(body: Any, *, limit: int = 64) -> list[str]:
    """The strings of an envelope that name or identify a person, to mask wherever they reappear.

    The applicant's name, ID number and phone, and every value under a name
    key (``name``, ``buyer_name``, ...) at any depth: a caller may repeat them
    in any other field (an item code, a channel, a material's name), and
    only exact strings known to be personal can be masked there.
    """
    found: list[str] = []

    def walk(value: Any, key: str | None, depth: int) -> None:
        if len(found) >= limit or depth > 8:
            return
        if isinstance(value, str):
            if key is not None and (key in NAME_KEYS or key.endswith("_name") or key in _APPLICANT_KEYS):
                found.append(value)
        elif isinstance(value, Mapping):
            for k, v in value.items():
                walk(v, str(k), depth + 1)
        elif isinstance(value, list):
            for v in value:
                walk(v, key, depth + 1)

    walk(body, None, 0)
    return found


_APPLICANT_KEYS = frozenset({"id_number", "phone"})


def _mask_str(value: str, key: str | None, known: tuple[str, ...]) -> str:
    if key in NAME_KEYS:
        return mask_name(value)
    if key is not None and key.endswith("_digest") and is_digest(value):
        return value  # the gateway's own digest, kept whole so that lines and audit entries can be matched
    for secret in known:
        if secret in value:
            value = value.replace(secret, mask_name(secret))
    return mask_text(value)


# Values that hold no text: a line's counts, flags and missing values, passed over without a call.
_NOT_TEXT = frozenset({int, float, bool, type(None)})


def _mask_value(value: Any, key: str | None, known: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return _mask_str(value, key, known)
    if isinstance(value, dict):
        return {k: _mask_value(v, k, known) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_value(v, key, known) for v in value]
    if isinstance(value, BaseException):
        return _mask_value(repr(value), key, known)
    return value


def mask_personal_data(logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: mask personal data in every value of the event."""
    known = _sensitive.get()
    for key, value in event_dict.items():  # values replaced in place: the keys, and so the iteration, stay
        kind = type(value)
        if kind is str:
            event_dict[key] = _mask_str(value, key, known)
        elif kind not in _NOT_TEXT:
            event_dict[key] = _mask_value(value, key, known)
    return event_dict


def _mask_rendered(logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    # Tracebacks are rendered into strings by format_exc_info; mask them too.
    if "exception" in event_dict and isinstance(event_dict["exception"], str):
        event_dict["exception"] = mask_text(event_dict["exception"])
    return event_dict


_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _unusual_value(value: Any) -> Any:
    """What a line shows for a value JSON has no form for: its own ``__structlog__``, else its repr."""
    rendered = getattr(value, "__structlog__", None)
    return rendered() if callable(rendered) else repr(value)


def render_json(logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> str:
    """structlog renderer: one JSON line, UTF-8 text as it is (as ``json.dumps(ensure_ascii=False)`` writes it).

    orjson writes it in a fraction of the time; what it refuses (integers past
    64 bits, lone surrogates) goes through the standard encoder instead.
    """
    try:
        return orjson.dumps(event_dict, default=_unusual_value, option=_ORJSON_OPTIONS).decode("utf-8")
    except TypeError:  # orjson.JSONEncodeError
        return stdlib_json.dumps(event_dict, ensure_ascii=False, default=_unusual_value)


def configure_logging(
    level: str = "info", *, stream: TextIO | None = None, json: bool = True, batched: bool = False
) -> LineWriter:
    """Set up structlog (and stdlib logging through it) for the gateway process; the writer every line goes to.

    ``batched``: a serving process's lines of one turn of the event loop share
    a write (:mod:`gateway.observability.line_writer`).
    """
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    # The level and the time are the gateway's own words: added after masking, which has no need to look at them.
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        mask_personal_data,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        _mask_rendered,
    ]
    renderer = render_json if json else structlog.dev.ConsoleRenderer(colors=False)
    writer = LineWriter(stream or sys.stderr, batched=batched)
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=LineLoggerFactory(writer),
        cache_logger_on_first_use=False,
    )
    # Libraries (aiohttp, asyncpg) log through the stdlib; route them through the same masking and writer.
    handler = _LineHandler(writer)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processor=renderer,
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared[1:]],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(numeric, logging.INFO))
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    return writer


class _LineHandler(logging.Handler):
    """The stdlib's records, formatted, to the same :class:`LineWriter` as structlog's lines (one order)."""

    def __init__(self, writer: LineWriter) -> None:
        super().__init__()
        self.writer = writer

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.writer.write_line(self.format(record), urgent=record.levelno >= logging.WARNING)
        except Exception:
            self.handleError(record)


def flush_lines() -> None:
    """Write the log lines waiting for the end of this turn of the event loop now.

    For text about to go to another stream (the serving banner on stdout):
    whoever reads both streams, merged by journald or a terminal, reads the
    lines logged before it first.
    """
    factory = structlog.get_config().get("logger_factory")
    if isinstance(factory, LineLoggerFactory):
        factory.writer.flush()


def get_logger(**bound: Any) -> structlog.typing.FilteringBoundLogger:
    """A logger with ``bound`` values on every line."""
    return structlog.get_logger("onewindow").bind(**bound)
