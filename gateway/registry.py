"""Loading agencies and their catalogues from the installed plugins.

Runs once at start-up: asks every plugin for its agencies, checks each
adapter has what the contract requires, and loads each catalogue file. Any
mistake stops the start with a message naming the plugin (and, for
catalogue mistakes, the item and field).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy

from gateway.catalogue import Catalogue, load_items
from gateway.contract import Agency
from gateway.plugins import hook_results_by_plugin

_REQUIRED_ASYNC = ("submit", "poll", "health")


class PluginError(RuntimeError):
    """A plugin broke the contract; the message names it."""


@dataclass
class Registry:
    """The agencies the gateway can reach and every item they offer."""

    agencies: dict[str, Agency] = field(default_factory=dict)
    catalogue: Catalogue = field(default_factory=Catalogue)
    plugin_of: dict[str, str] = field(default_factory=dict)

    def agency_for(self, item_code: str) -> Agency:
        """The adapter handling ``item_code``."""
        return self.agencies[item_code.split(".", 1)[0]]


def _check_adapter(plugin: str, agency: Any) -> None:
    for attribute in ("code", "name_zh", "name_en", "catalogue"):
        if not getattr(agency, attribute, None):
            raise PluginError(f"plugin {plugin!r}: agency adapter {agency!r} lacks {attribute!r}")
    for method in _REQUIRED_ASYNC:
        if not inspect.iscoroutinefunction(getattr(agency, method, None)):
            raise PluginError(f"plugin {plugin!r}: agency {agency.code!r} must define 'async def {method}(...)'")


def load_registry(pm: pluggy.PluginManager, config: Any) -> Registry:
    """Ask every plugin for its agencies and load their catalogues."""
    registry = Registry()
    for plugin, agencies in hook_results_by_plugin(pm, "onewindow_agencies", config=config):
        for agency in agencies:
            _check_adapter(plugin, agency)
            if agency.code in registry.agencies:
                raise PluginError(
                    f"plugin {plugin!r}: agency {agency.code!r} is already registered "
                    f"by plugin {registry.plugin_of[agency.code]!r}"
                )
            for item in load_items(Path(agency.catalogue), plugin=plugin, agency=agency.code):
                registry.catalogue.add(item)
            registry.agencies[agency.code] = agency
            registry.plugin_of[agency.code] = plugin
    return registry
