"""Every hook of the plugin contract: documented, and proven by a test named after it."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from gateway import contract
from gateway.agencies.plugin_manager import documented_hooks, plugin_manager
from gateway.agencies.sandboxes import sandbox_specs
from gateway.contract import AgencyCall, Completed, Health, IntakeRequest, Problem, SandboxSpec, hookimpl
from plugins.tax import sandbox as tax_sandbox
from tests.helpers import PERSON, TOWN, identity_of

DOCS = Path(__file__).parents[1] / "docs" / "plugins.md"
REQUEST = {
    "item": "tax.payment-record",
    "applicant": PERSON,
    "materials": {"period_start": "2025-01-01", "period_end": "2025-12-31"},
    "office": TOWN,
    "operator": "fz-window-01",
    "channel": "window",
}
CATALOGUE = """
[[items]]
code = "hooktest.echo"
name_zh = "回声测试"
name_en = "Echo"
kind = "query"
seal = "service_centre"
office_levels = ["town"]
channels = ["window"]
applicant_kinds = ["person"]
legal_basis = ["测试依据"]
time_limit_days = 0
steps = ["回声"]
[[items.materials]]
name = "words"
type = "text"
required = true
description_zh = "内容"
sample = "你好"
"""


def test_every_hook_is_documented_with_its_arguments_and_tested() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    tests = Path(__file__).read_text(encoding="utf-8")
    for hook in documented_hooks():
        heading = re.search(rf"^### {hook}\((.*)\)$", docs, re.M)
        assert heading, f"{hook} is not documented in docs/plugins.md"
        arguments = list(inspect.signature(getattr(contract, hook)).parameters)
        documented = [name.strip() for name in heading.group(1).split(",") if name.strip()]
        assert documented == arguments, f"docs/plugins.md documents {hook}({', '.join(documented)}), not {arguments}"
        assert f"def test_hook_{hook}" in tests, f"{hook} has no test_hook_{hook} in {__file__}"


async def test_hook_onewindow_agencies(start_gateway, tmp_path) -> None:
    catalogue = tmp_path / "catalogue.toml"
    catalogue.write_text(CATALOGUE, encoding="utf-8")

    class EchoAgency:
        code, identity = "hooktest", identity_of("hooktest", "回声局", "Echo bureau")

        def __init__(self) -> None:
            self.catalogue = catalogue

        async def submit(self, request: IntakeRequest, call: AgencyCall) -> Completed:
            return Completed({"echo": request.materials["words"], "attempt": call.attempt})

        async def poll(self, ticket: str, call: AgencyCall) -> Completed:
            raise NotImplementedError

        async def health(self, call: AgencyCall) -> Health:
            return Health(ok=True)

    class Plugin:
        @hookimpl
        def onewindow_agencies(self, config):
            return [EchoAgency()]

    gw = await start_gateway(plugins=(Plugin(),))
    assert gw.gateway.registry.catalogue.get("hooktest.echo").plugin
    response = await gw.post({**REQUEST, "item": "hooktest.echo", "materials": {"words": "你好"}})
    body = await response.json()
    assert body["status"] == "completed" and body["result"]["content"] == {"echo": "你好", "attempt": 1}


def test_hook_onewindow_sandboxes() -> None:
    spec = SandboxSpec(agency="hooktest", name="Echo", create_app=tax_sandbox.create_app, default_port=9199)

    class Plugin:
        @hookimpl
        def onewindow_sandboxes(self):
            return [spec]

    specs = sandbox_specs(plugin_manager(extra=(Plugin(),)))
    assert spec in specs and {s.agency for s in specs} >= {"tax", "hooktest"}


async def test_hook_onewindow_startup(start_gateway) -> None:
    seen = []

    class Plugin:
        @hookimpl
        async def onewindow_startup(self, gateway):
            seen.append(("startup", len(gateway.registry.catalogue)))

    await start_gateway(plugins=(Plugin(),))
    assert seen and seen[0][1] >= 7


async def test_hook_onewindow_shutdown(start_gateway) -> None:
    seen = []

    class Plugin:
        @hookimpl
        def onewindow_shutdown(self, gateway):
            seen.append(gateway.stopping)

    gw = await start_gateway(plugins=(Plugin(),))
    await gw.gateway.stop()
    assert seen == [True]


async def test_hook_onewindow_validate(start_gateway) -> None:
    class Plugin:
        @hookimpl
        async def onewindow_validate(self, item, request):
            if item.code == "tax.payment-record" and request.materials["period_start"] < "2025-06-01":
                return [Problem("materials/period_start", "too_early", "起始日期过早", "period_start is too early")]
            return []

    gw = await start_gateway(plugins=(Plugin(),))
    response = await gw.post(REQUEST)
    assert response.status == 422
    assert [e["code"] for e in (await response.json())["errors"]] == ["too_early"]
    assert (await gw.post({**REQUEST, "item": "tax.income-record", "materials": {"year": 2025}})).status == 201


async def test_hook_onewindow_request_finished(start_gateway) -> None:
    seen = []

    class Plugin:
        @hookimpl
        def onewindow_request_finished(self, item, request_id, status, outcome):
            seen.append((item.code, request_id, status, type(outcome).__name__))
            raise RuntimeError("a broken notifier never changes the request")

    gw = await start_gateway(plugins=(Plugin(),))
    body = await (await gw.post(REQUEST)).json()
    assert body["status"] == "completed"
    assert seen == [("tax.payment-record", body["id"], "completed", "Completed")]
