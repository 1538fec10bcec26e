"""Loading agencies and their catalogues from the installed plugins.

Runs once at start-up: asks every plugin for its agencies, checks each
adapter has what the contract requires, loads each catalogue file and
checks the configuration holds every secret and option the adapter says it
needs, and that the adapter carries the district's configured identity
(names, issuing authority, credit code) rather than names of its own. Any
mistake stops the start with a message naming the plugin (and, for
catalogue mistakes, the item and field; for settings, the key).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy

from gateway.agencies.plugin_manager import hook_results_by_plugin
from gateway.catalogue.files import load_items
from gateway.catalogue.items import Catalogue
from gateway.contract import Agency, AgencyIdentity
from gateway.errors import ConfigError, PluginError

_REQUIRED_ASYNC = ("submit", "poll", "health")
_REQUIRED_SETTINGS = ("required_secrets", "required_options")


@dataclass
class Registry:
    """The agencies the gateway can reach and every item they offer."""

    agencies: dict[str, Agency] = field(default_factory=dict)
    catalogue: Catalogue = field(default_factory=Catalogue)
    plugin_of: dict[str, str] = field(default_factory=dict)

    def agency_for(self, item_code: str) -> Agency:
        """The adapter handling ``item_code``."""
        return self.agencies[item_code.split(".", 1)[0]]


def check_adapter(plugin: str, agency: Any) -> None:
    """Raise :class:`PluginError` unless ``agency`` has every attribute and async method of the contract."""
    for attribute in ("code", "identity", "catalogue"):
        if not getattr(agency, attribute, None):
            raise PluginError(f"plugin {plugin!r}: agency adapter {agency!r} lacks {attribute!r}")
    identity = agency.identity
    if not isinstance(identity, AgencyIdentity) or identity.code != agency.code:
        raise PluginError(
            f"plugin {plugin!r}: agency {agency.code!r}: identity must be the AgencyIdentity of {agency.code!r} "
            f"(config.agency_identity({agency.code!r}) in onewindow_agencies)"
        )
    for method in _REQUIRED_ASYNC:
        if not inspect.iscoroutinefunction(getattr(agency, method, None)):
            raise PluginError(f"plugin {plugin!r}: agency {agency.code!r} must define 'async def {method}(...)'")
    for attribute in _REQUIRED_SETTINGS:
        keys = getattr(agency, attribute, ())
        if isinstance(keys, str) or not all(isinstance(k, str) and k for k in keys):
            raise PluginError(f"plugin {plugin!r}: agency {agency.code!r}: {attribute} must be a tuple of key names")


def missing_settings(plugin: str, agency: Any, config: Any) -> list[str]:
    """One message per secret or option ``agency`` requires that ``config`` does not hold."""
    settings = config.agency(agency.code)
    problems = []
    for attribute, table in (("required_secrets", "secrets"), ("required_options", "options")):
        configured = getattr(settings, table)
        for key in getattr(agency, attribute, ()):
            if configured.get(key) in (None, ""):
                problems.append(
                    f"plugin {plugin!r}: agency {agency.code!r} needs {table}.{key!r}, which is not configured "
                    f"(set it under [agencies.{agency.code}.{table}])"
                )
    return problems


def identity_problems(plugin: str, agency: Any, config: Any) -> list[str]:
    """A message when ``agency`` does not carry the identity ``config`` gives its code (a plugin's own names)."""
    try:
        configured = config.agency_identity(agency.code)
    except ConfigError as exc:
        return [str(exc)]
    if agency.identity == configured:
        return []
    return [
        f"plugin {plugin!r}: agency {agency.code!r} names itself {agency.identity.name_zh!r}, not as "
        f"[agencies.{agency.code}] does ({configured.name_zh!r}): an agency's identity is the district's; "
        f"take it from config.agency_identity({agency.code!r})"
    ]


def load_registry(
    pm: pluggy.PluginManager, config: Any, *, check_settings: bool = True, failed: dict[str, str] | None = None
) -> Registry:
    """Ask every plugin for its agencies and load their catalogues.

    With ``check_settings`` (the gateway's start), a required secret or
    option missing from ``config``, or an identity other than the configured
    one, stops the start; listing the catalogue needs no credentials and
    passes ``False``. An identity the district has not configured stops both.
    With ``failed`` (the sample district, every sandbox started), a plugin
    whose ``onewindow_agencies`` raises or returns no list is recorded there
    and left out, and the other agencies serve.
    """
    registry = Registry()
    unconfigured: list[str] = []
    for plugin, agencies in hook_results_by_plugin(
        pm, "onewindow_agencies", config=config, refused=unconfigured, failed=failed
    ):
        for agency in agencies:
            check_adapter(plugin, agency)
            if check_settings:
                unconfigured += missing_settings(plugin, agency, config)
                unconfigured += identity_problems(plugin, agency, config)
            if agency.code in registry.agencies:
                raise PluginError(
                    f"plugin {plugin!r}: agency {agency.code!r} is already registered "
                    f"by plugin {registry.plugin_of[agency.code]!r}"
                )
            for item in load_items(Path(agency.catalogue), plugin=plugin, agency=agency.code):
                registry.catalogue.add(item)
            registry.agencies[agency.code] = agency
            registry.plugin_of[agency.code] = plugin
    if unconfigured:  # every missing key at once, not one per restart
        raise PluginError(
            "; ".join(unconfigured) + ". A plugin for an agency this district does not use can be switched off: "
            '[plugins] disabled = ["<name>"]'
        )
    return registry
