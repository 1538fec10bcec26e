"""Configuration: one TOML file over embedded defaults, environment overrides, typed settings.

* :mod:`~gateway.config.settings` -- the typed settings and how a file becomes them
* :mod:`~gateway.config.sections` -- every section and key the configuration knows (nothing unknown is ignored)
* :mod:`~gateway.config.environment` -- ``ONEWINDOW_…`` variables: settings, the few that are not, typos refused
* :mod:`~gateway.config.agencies` -- the ``[agencies.<code>]`` tables: each agency's identity and address
* :mod:`~gateway.config.callers` -- the ``[[offices]]`` and ``[[callers]]`` tables
* :mod:`~gateway.config.callback_urls` -- callback URLs and prefixes, parsed and compared part by part
* :mod:`~gateway.config.http` -- per-connection limits of the HTTP server (``[server]``)
* :mod:`~gateway.config.tls` -- TLS on the listener and client certificates (``[server]``)
* :mod:`~gateway.config.limits` -- per-caller rate and concurrency limits (``[[callers]]``)
* :mod:`~gateway.config.values` -- reading one checked value of a table
* :mod:`~gateway.config.outbox` -- the ``[outbox]`` section
* :mod:`~gateway.config.audit` -- the ``[audit]`` section
* :mod:`~gateway.config.authentication` -- the ``[authentication]`` section: API keys allowed, clock skew, nonces
* :mod:`~gateway.config.retention` -- the ``[retention]`` section
* :mod:`~gateway.config.metrics` -- the ``[metrics]`` section: who may read ``/metrics``
* :mod:`~gateway.config.witness` -- the ``[witness]`` section: where signed checkpoints are published
* :mod:`~gateway.config.bundles` -- the ``[bundles]`` section: the district's chains file
* :mod:`~gateway.config.printouts` -- the ``[printouts]`` section: time-stamps and the font of signed PDF printouts
* :mod:`~gateway.config.calendar` -- the ``[calendar]`` section: local closures counted by time limits
* :mod:`~gateway.config.view` -- the effective configuration, secrets redacted (``check-config``)
* ``base.toml`` (every default) and ``sample.toml`` (the sample district), package data

Every other part of the gateway reads its settings from the names below (and
``check-config`` shows them through :mod:`~gateway.config.view`).
"""

from gateway.config.agencies import IDENTITY_KEYS, AgencySettings
from gateway.config.audit import AuditSettings
from gateway.config.authentication import AuthenticationSettings
from gateway.config.bundles import BundleSettings
from gateway.config.calendar import CalendarSettings, parse_date
from gateway.config.callback_urls import (
    MAX_CALLBACK_URL_LENGTH,
    CallbackPrefix,
    CallbackTarget,
    allowed,
    parse_callback_url,
)
from gateway.config.callers import AUTH_METHODS, CallerConfig, Office
from gateway.config.environment import ENV_PREFIX, NOT_SETTINGS
from gateway.config.http import HttpLimits
from gateway.config.limits import RateLimit
from gateway.config.metrics import MetricsSettings, read_metrics_token
from gateway.config.outbox import OutboxSettings
from gateway.config.printouts import PrintoutSettings
from gateway.config.retention import RetentionSettings
from gateway.config.settings import SAMPLE_SOURCE, Settings, build_settings, load_settings
from gateway.config.tls import TlsSettings
from gateway.config.values import closest, shown
from gateway.config.witness import WitnessSettings
from gateway.errors import ConfigError

__all__ = [
    "AUTH_METHODS",
    "ENV_PREFIX",
    "IDENTITY_KEYS",
    "MAX_CALLBACK_URL_LENGTH",
    "NOT_SETTINGS",
    "SAMPLE_SOURCE",
    "AgencySettings",
    "AuditSettings",
    "AuthenticationSettings",
    "BundleSettings",
    "CalendarSettings",
    "CallbackPrefix",
    "CallbackTarget",
    "CallerConfig",
    "ConfigError",
    "HttpLimits",
    "MetricsSettings",
    "Office",
    "OutboxSettings",
    "PrintoutSettings",
    "RateLimit",
    "RetentionSettings",
    "Settings",
    "TlsSettings",
    "WitnessSettings",
    "allowed",
    "build_settings",
    "closest",
    "load_settings",
    "parse_callback_url",
    "parse_date",
    "read_metrics_token",
    "shown",
    "view",
]
