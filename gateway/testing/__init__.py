"""The test kit for agency plugins, and the ``onewindow`` pytest plugin.

Installed with onewindow and registered through the ``pytest11`` entry
point, so every pytest run in an environment with onewindow loads this
module. It therefore imports nothing heavy: the contract tests
(:class:`AgencyContract`), the harness (:class:`AgencyHarness`) and the
sample applicants are loaded on first use::

    from gateway.testing import AgencyContract

    class TestDemoContract(AgencyContract):
        agency = "demo"

The plugin adds one fixture, ``agency_kit``, for a plugin's own tests::

    async def test_something(agency_kit):
        async with agency_kit("demo", options={"decision_delay_s": 0.1}) as kit:
            outcome = await kit.run(kit.request("demo.rent-certificate"))
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "OFFICES",
    "ORGANISATION",
    "OTHER_PERSON",
    "PERSON",
    "SAMPLE_PHONE",
    "AgencyContract",
    "AgencyHarness",
    "KitError",
    "PluginUnderTest",
    "captured_logs",
    "check_final",
    "envelope_for",
    "find_agency",
    "intake_for",
]
_HOMES = {
    "AgencyContract": "gateway.testing.kit",
    "check_final": "gateway.testing.kit",
    "AgencyHarness": "gateway.testing.harness",
    "KitError": "gateway.testing.harness",
    "PluginUnderTest": "gateway.testing.harness",
    "captured_logs": "gateway.testing.harness",
    "find_agency": "gateway.testing.harness",
    "OFFICES": "gateway.testing.samples",
    "ORGANISATION": "gateway.testing.samples",
    "OTHER_PERSON": "gateway.testing.samples",
    "PERSON": "gateway.testing.samples",
    "SAMPLE_PHONE": "gateway.testing.samples",
    "envelope_for": "gateway.testing.samples",
    "intake_for": "gateway.testing.samples",
}


def __getattr__(name: str) -> Any:
    """Load the kit's parts on first use, so loading the pytest plugin costs nothing."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'gateway.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


try:  # the pytest side; without pytest (a script importing the samples) it is simply absent
    import pytest
except ImportError:  # pragma: no cover - pytest is there whenever pytest loads this module
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    def pytest_configure(config: pytest.Config) -> None:
        """Document the kit's marker in ``pytest --markers``."""
        config.addinivalue_line("markers", "onewindow_contract: the onewindow agency plugin contract tests")

    @pytest.fixture
    def agency_kit() -> Any:
        """Factory: ``async with agency_kit(code, options=..., **agency_settings) as kit`` -- a sandbox and extranet."""
        from gateway.testing.harness import AgencyHarness, find_agency

        def make(code: str, *, plugins: tuple[object, ...] = (), **kwargs: Any) -> AgencyHarness:
            return AgencyHarness(find_agency(code, plugins), **kwargs)

        return make
