"""The ``[agencies.<code>]`` tables: who each agency is, and how the core reaches it.

An agency's identity -- its names, the issuing authority printed on its
results and its unified social credit code -- belongs to the district, not
to the plugin (the same tax plugin serves every district), so it is read
here and handed to the plugin (:meth:`AgencySettings.identity`). A district
that has not named an installed agency gets one line naming the missing keys
at start-up, never another district's names.

``base_url`` is parsed as strictly as a callback URL (userinfo, numeric
hosts other than dotted quads, text two URL parsers read differently are
refused), and may not carry a query or fragment: paths are joined to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from gateway.config.callback_urls import parse_callback_url
from gateway.config.values import refuse_unknown, shown, typed_values
from gateway.contract import AgencyIdentity
from gateway.errors import ConfigError, UnsafeCallbackUrl
from gateway.personal_data.identifiers import credit_code_problem

IDENTITY_KEYS = ("name_zh", "name_en", "authority_zh", "authority_en", "credit_code")
FREE_TABLES = ("secrets", "options", "item_timeouts")  # the plugin's own keys, and item codes


@dataclass(frozen=True)
class AgencySettings:
    """One agency in this district: its identity, and how the core reaches it through the extranet."""

    code: str
    name_zh: str = ""
    name_en: str = ""
    authority_zh: str = ""  # the issuing authority printed on results (签发机关)
    authority_en: str = ""
    credit_code: str = ""  # the agency's unified social credit code
    base_url: str = ""
    connect_timeout_s: float = 3.0
    read_timeout_s: float = 10.0
    total_timeout_s: float = 15.0
    max_attempts: int = 3
    backoff_initial_s: float = 0.2
    backoff_max_s: float = 5.0
    pool_size: int = 20
    proxy: str = ""
    ca_file: str = ""
    client_cert: str = ""
    client_key: str = ""
    breaker_failures: int = 5
    breaker_reset_s: float = 30.0
    secrets: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    item_timeouts: Mapping[str, float] = field(default_factory=dict)

    def identity(self) -> AgencyIdentity:
        """The agency's identity; ConfigError naming every identity key the district has not set."""
        missing = [key for key in IDENTITY_KEYS if not getattr(self, key)]
        if missing:
            keys = missing[0] if len(missing) == 1 else "{" + ", ".join(missing) + "}"
            verb = "is" if len(missing) == 1 else "are"
            raise ConfigError(
                f"agencies.{self.code}.{keys}: {verb} required: the district names every agency it runs, "
                "and the agency's sealed results print these names"
            )
        return AgencyIdentity(self.code, *(getattr(self, key) for key in IDENTITY_KEYS))


AGENCY_KEYS = frozenset(f.name for f in fields(AgencySettings)) - {"code"}
_TEXT = ("name_zh", "name_en", "authority_zh", "authority_en")


def parse_agency(code: str, table: Any) -> AgencySettings:
    """``[agencies.<code>]`` as :class:`AgencySettings`; ConfigError naming the key when wrong."""
    where = f"agencies.{code}"
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: must be a table")
    refuse_unknown(table, AGENCY_KEYS, where)
    values = typed_values(table, AgencySettings, where, skip=("code", *FREE_TABLES), any_number=("max_attempts",))
    if values.get("max_attempts", 1) < 1:
        raise ConfigError(f"{where}.max_attempts: must be at least 1")
    if values.get("client_key") and not values.get("client_cert"):
        raise ConfigError(f"{where}.client_key: set client_cert too (a key alone is no client certificate)")
    _check_identity(values, where)
    if values.get("base_url"):
        check_base_url(values["base_url"], f"{where}.base_url")
    for name in FREE_TABLES:
        sub = table.get(name, {})
        if not isinstance(sub, Mapping):
            raise ConfigError(f"{where}.{name}: must be a table")
        values[name] = dict(sub)
    for item, seconds in values["item_timeouts"].items():
        if isinstance(seconds, Mapping) and seconds:  # item_timeouts = { tax.payment-record = 30 }: TOML nests it
            code = f"{item}.{next(iter(seconds))}"
            raise ConfigError(f"{where}.item_timeouts: quote the item code, it holds a dot: {shown(code)} = ...")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
            raise ConfigError(f"{where}.item_timeouts.{item}: must be a positive number of seconds")
    return AgencySettings(code=code, **values)


def _check_identity(values: dict[str, Any], where: str) -> None:
    for name in _TEXT:
        text = values.get(name)
        if text is not None and (not text.strip() or not text.isprintable()):
            raise ConfigError(f"{where}.{name}: must be printable text, not {shown(text)}")
    code = values.get("credit_code")
    if code is not None:
        problem = credit_code_problem(code)
        if problem is not None:
            raise ConfigError(
                f"{where}.credit_code: {shown(code)} is not a unified social credit code (GB 32100: {problem})"
            )
        values["credit_code"] = code.upper()


def check_base_url(text: str, where: str) -> None:
    """Refuse a base URL that is not a plain ``http(s)://host[:port]/path`` (ConfigError naming ``where``)."""
    try:
        target = parse_callback_url(text)
    except UnsafeCallbackUrl as exc:
        raise ConfigError(f"{where}: {shown(text)} {exc}") from None
    if target.query or "?" in text:
        raise ConfigError(f"{where}: {shown(text)} has a query; paths are joined to the base URL, so it cannot")
