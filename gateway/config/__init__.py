"""Configuration: one TOML file over embedded defaults, environment overrides, typed settings.

* :mod:`~gateway.config.settings` -- the typed settings and how a file becomes them
* :mod:`~gateway.config.audit` -- the ``[audit]`` section
* :mod:`~gateway.config.retention` -- the ``[retention]`` section
* :mod:`~gateway.config.view` -- the effective configuration, secrets redacted (``check-config``)
* ``base.toml`` (every default) and ``sample.toml`` (the sample district), package data

Every other part of the gateway reads its settings from the names below (and
``check-config`` shows them through :mod:`~gateway.config.view`).
"""

from gateway.config.audit import AuditSettings
from gateway.config.retention import RetentionSettings
from gateway.config.settings import (
    ENV_PREFIX,
    AgencySettings,
    CallerConfig,
    Office,
    OutboxSettings,
    Settings,
    build_settings,
    load_settings,
)
from gateway.errors import ConfigError

__all__ = [
    "ENV_PREFIX",
    "AgencySettings",
    "AuditSettings",
    "CallerConfig",
    "ConfigError",
    "Office",
    "OutboxSettings",
    "RetentionSettings",
    "Settings",
    "build_settings",
    "load_settings",
    "view",
]
