"""The installed plugins' sandboxes: which there are, and settings routed to them.

With ``[sandboxes] start = true`` (the sample district) the gateway, the
supervisor and the test kit start every plugin's sandbox and route the
agency there, filling in the sandbox's demo credentials under whatever the
configuration sets.
"""

from __future__ import annotations

import dataclasses

import pluggy

from gateway.agencies.plugin_manager import hook_results_by_plugin
from gateway.config import AgencySettings, Settings
from gateway.sandbox import RunningSandbox, SandboxSpec


def sandbox_specs(pm: pluggy.PluginManager) -> list[SandboxSpec]:
    """Every sandbox the installed plugins offer."""
    return [spec for _, specs in hook_results_by_plugin(pm, "onewindow_sandboxes") for spec in specs]


def with_sandbox_config(settings: Settings, specs: list[SandboxSpec], urls: dict[str, str] | None = None) -> Settings:
    """``settings`` with each sandbox's demo secrets and options under the configured ones (and its URL)."""
    agencies = dict(settings.agencies)
    for spec in specs:
        configured = agencies.get(spec.agency, AgencySettings(code=spec.agency))
        secrets = {**spec.config.get("secrets", {}), **configured.secrets}
        options = {**spec.config.get("options", {}), **configured.options}
        base_url = (urls or {}).get(spec.agency, configured.base_url)
        agencies[spec.agency] = dataclasses.replace(configured, base_url=base_url, secrets=secrets, options=options)
    return dataclasses.replace(settings, agencies=agencies)


def with_sandboxes(settings: Settings, running: list[RunningSandbox]) -> Settings:
    """``settings`` routed to running sandboxes (configured values win, except the URL)."""
    return with_sandbox_config(settings, [s.spec for s in running], {s.spec.agency: s.url for s in running})
