"""Hook implementations of the social security plugin (entry point ``social_security``).

The certificate's period rules (it runs forwards, 60 months at most) are
declared in the catalogue (``[[items.rules]]``) and checked by the core;
the plugin has no checks of its own beyond them.
"""

from __future__ import annotations

from typing import Any

from gateway.contract import Agency, SandboxSpec, hookimpl
from plugins.social_security import sandbox
from plugins.social_security.client import SocialSecurityAgency


@hookimpl
def onewindow_agencies(config: Any) -> list[Agency]:
    """The agency, named as this district's configuration names it ([agencies.social_security])."""
    return [SocialSecurityAgency(config.agency_identity(SocialSecurityAgency.code))]


@hookimpl
def onewindow_sandboxes() -> list[SandboxSpec]:
    return [sandbox.spec()]
