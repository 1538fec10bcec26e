"""The ``[metrics]`` section: who may read ``GET /metrics``.

Metrics carry item and agency codes and counts, never personal data, and are
open by default like ``/healthz``; a district that cannot keep them on a
monitoring network requires a bearer token (Prometheus: ``authorization:
credentials_file``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.config.values import refuse_unknown
from gateway.errors import StartupError

MIN_TOKEN_LENGTH = 16


@dataclass(frozen=True)
class MetricsSettings:
    """Access to ``/metrics``."""

    token_file: str = ""  # a file holding the bearer token scrapers must send; empty: no token needed


def parse_metrics_settings(table: Any) -> MetricsSettings:
    """``[metrics]`` as :class:`MetricsSettings`; ``ValueError`` naming the key when wrong."""
    if not isinstance(table, Mapping):
        raise ValueError("metrics: must be a table")
    refuse_unknown(table, ("token_file",), "metrics")
    token_file = table.get("token_file", "")
    if not isinstance(token_file, str):
        raise ValueError("metrics.token_file: expected a file path")
    return MetricsSettings(token_file=token_file)


def read_metrics_token(settings: MetricsSettings) -> bytes | None:
    """The token ``/metrics`` requires, or None; :class:`StartupError` when the file is unusable."""
    if not settings.token_file:
        return None
    path = Path(settings.token_file)
    try:
        token = path.read_bytes().strip()
    except OSError as exc:
        raise StartupError(f"metrics.token_file {path}: {exc.strerror}") from None
    if len(token) < MIN_TOKEN_LENGTH or not token.isascii() or any(c <= 0x20 for c in token):
        raise StartupError(
            f"metrics.token_file {path}: the token must be at least {MIN_TOKEN_LENGTH} printable characters"
        )
    return token
