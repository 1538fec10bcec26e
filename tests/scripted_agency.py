"""A scripted agency for delivery tests: each call runs what the test scripts, and every call is recorded."""

from __future__ import annotations

from pathlib import Path

from gateway.contract import AgencyCall, Completed, Health, IntakeRequest, hookimpl
from tests.helpers import identity_of

CATALOGUE = """
[[items]]
code = "scripted.thing"
name_zh = "脚本测试"
name_en = "Scripted"
kind = "query"
seal = "service_centre"
office_levels = ["town"]
channels = ["window"]
applicant_kinds = ["person"]
legal_basis = ["测试"]
time_limit_days = 0
steps = ["测试"]

[[items]]
code = "scripted.now"
name_zh = "脚本测试即办"
name_en = "Scripted, not deferrable"
kind = "query"
seal = "service_centre"
office_levels = ["town"]
channels = ["window"]
applicant_kinds = ["person"]
legal_basis = ["测试"]
time_limit_days = 0
steps = ["测试"]
deferrable = false
"""


class ScriptedAgency:
    code, identity = "scripted", identity_of("scripted", "脚本局", "Scripted agency")

    def __init__(self, directory: Path) -> None:
        self.catalogue = directory / "scripted.toml"
        self.catalogue.write_text(CATALOGUE, encoding="utf-8")
        self.submits: list[str] = []
        self.polls: list[str] = []
        self.on_submit = None  # async (request, call) -> Outcome
        self.on_poll = None

    async def submit(self, request: IntakeRequest, call: AgencyCall):
        self.submits.append(call.dedupe_key)
        if self.on_submit is not None:
            return await self.on_submit(request, call)
        return Completed({"answer": "done"}, reference="REF-1")

    async def poll(self, ticket: str, call: AgencyCall):
        self.polls.append(ticket)
        if self.on_poll is not None:
            return await self.on_poll(ticket, call)
        return Completed({"answer": "done after poll"}, reference="REF-1")

    async def health(self, call: AgencyCall) -> Health:
        return Health(ok=True)


class ScriptedPlugin:
    def __init__(self, agency: ScriptedAgency) -> None:
        self.agency = agency

    @hookimpl
    def onewindow_agencies(self, config):
        return [self.agency]


PERSON = {"kind": "person", "id_number": "370303199001011239", "name": "张伟"}
ENVELOPE = {
    "item": "scripted.thing",
    "applicant": PERSON,
    "materials": {},
    "office": "370303105000",
    "operator": "fz-window-01",
    "channel": "window",
}
