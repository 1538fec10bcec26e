"""Hook implementations of the tax plugin (entry point ``onewindow: tax``)."""

from __future__ import annotations

from typing import Any

from gateway.contract import Agency, SandboxSpec, hookimpl
from plugins.tax import sandbox
from plugins.tax.client import TaxAgency


@hookimpl
def onewindow_agencies(config: Any) -> list[Agency]:
    """The agency, named as this district's configuration names it ([agencies.tax])."""
    return [TaxAgency(config.agency_identity(TaxAgency.code))]


@hookimpl
def onewindow_sandboxes() -> list[SandboxSpec]:
    return [sandbox.spec()]
