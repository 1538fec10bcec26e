"""Hook implementations of the medical insurance plugin (entry point ``medical``).

The rules across materials the bureau would refuse after the call -- the
record's year range (10001), a newborn's birth date against its ID number
(20006) -- are declared in the catalogue (``[[items.rules]]``) and checked
by the core at intake, with every other problem.
"""

from __future__ import annotations

from typing import Any

from gateway.contract import Agency, SandboxSpec, hookimpl
from plugins.medical import sandbox
from plugins.medical.client import MedicalAgency


@hookimpl
def onewindow_agencies(config: Any) -> list[Agency]:
    """The agency, named as this district's configuration names it ([agencies.medical])."""
    return [MedicalAgency(config.agency_identity(MedicalAgency.code))]


@hookimpl
def onewindow_sandboxes() -> list[SandboxSpec]:
    return [sandbox.spec()]
