"""Hook implementations of the property plugin (entry point ``onewindow: property``)."""

from __future__ import annotations

from typing import Any

from gateway.contract import Agency, SandboxSpec, hookimpl
from plugins.property import sandbox
from plugins.property.client import PropertyAgency


@hookimpl
def onewindow_agencies(config: Any) -> list[Agency]:
    """The agency, named as this district's configuration names it ([agencies.property])."""
    return [PropertyAgency(config.agency_identity(PropertyAgency.code))]


@hookimpl
def onewindow_sandboxes() -> list[SandboxSpec]:
    return [sandbox.spec()]
