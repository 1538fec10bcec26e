"""Agency plugins that each break one rule of the contract, for proving the contract kit catches it.

Each is the tax plugin under another agency code (its catalogue copied with
the codes renamed, its sandbox reused) with exactly one flaw, so the kit
must fail exactly the tests about that flaw and pass the others. The
catalogues are written to ``$KIT_FLAWS_DIR``.
"""

from __future__ import annotations

import dataclasses
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

from gateway.contract import AgencyCall, Completed, IntakeRequest, Outcome, Reason, Rejected, SandboxSpec, hookimpl
from gateway.intake.request_ids import new_ulid
from plugins.tax import sandbox as tax_sandbox
from plugins.tax.client import CATALOGUE, TaxAgency
from tests.helpers import identity_of


def _catalogue(code: str, incomplete: bool = False) -> Path:
    text = CATALOGUE.read_text(encoding="utf-8").replace('code = "tax.', f'code = "{code}.')
    if incomplete:  # a guide without conditions, a material without an English description
        text = text.replace('conditions_zh = ["申请人为在本区缴纳过税款的自然人"]\n', "", 1)
        text = text.replace('description_en = "Tax year"\n', "", 1)
    path = Path(os.environ["KIT_FLAWS_DIR"]) / f"{code}.toml"
    path.write_text(text, encoding="utf-8")
    return path


class _AsTax(TaxAgency):
    """The tax adapter answering for another agency code."""

    def __init__(self, code: str, *, incomplete: bool = False) -> None:
        super().__init__(identity_of(code, "缺陷示例局", "Flawed example bureau"))
        self.code = code
        self.catalogue = _catalogue(code, incomplete)

    async def submit(self, request: IntakeRequest, call: AgencyCall) -> Outcome:
        return await super().submit(dataclasses.replace(request, item="tax." + request.item.split(".", 1)[1]), call)


class Leaky(_AsTax):
    """Writes the applicant's name into a free-text log message."""

    async def submit(self, request: IntakeRequest, call: AgencyCall) -> Outcome:
        call.log.info(f"submitting {request.item} for {request.applicant.name}")
        return await super().submit(request, call)


class Forgetful(_AsTax):
    """Sends a fresh serial on every attempt instead of the gateway's dedupe key."""

    async def submit(self, request: IntakeRequest, call: AgencyCall) -> Outcome:
        return await super().submit(request, dataclasses.replace(call, dedupe_key=new_ulid()))


class Swallowing(_AsTax):
    """Turns every failure into a business refusal, so nothing is ever retried."""

    async def submit(self, request: IntakeRequest, call: AgencyCall) -> Outcome:
        try:
            return await super().submit(request, call)
        except Exception:
            return Rejected((Reason("flawed.error", "系统异常"),))


class Careless(_AsTax):
    """Completes with a document that is not JSON data (it could never be sealed)."""

    async def submit(self, request: IntakeRequest, call: AgencyCall) -> Outcome:
        outcome = await super().submit(request, call)
        if isinstance(outcome, Completed):
            return Completed({**outcome.document, "fee": Decimal("0.00")}, outcome.reference)
        return outcome


def _spec(code: str, *, rejection: bool = True) -> SandboxSpec:
    spec = tax_sandbox.spec()
    example: dict[str, Any] = {**spec.rejection, "item": spec.rejection["item"].replace("tax.", f"{code}.")}
    return dataclasses.replace(spec, agency=code, rejection=example if rejection else {})


AGENCIES = {
    "leaky": lambda: Leaky("leaky"),
    "forgetful": lambda: Forgetful("forgetful"),
    "swallowing": lambda: Swallowing("swallowing"),
    "careless": lambda: Careless("careless"),
    "sketchy": lambda: _AsTax("sketchy", incomplete=True),
}


@hookimpl
def onewindow_agencies(config: Any) -> list[Any]:
    return [make() for make in AGENCIES.values()]


@hookimpl
def onewindow_sandboxes() -> list[SandboxSpec]:
    return [_spec(code, rejection=code != "sketchy") for code in AGENCIES]
