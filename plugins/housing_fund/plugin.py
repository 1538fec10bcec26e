"""Hook implementations of the housing fund plugin (entry point ``onewindow: housing_fund``)."""

from __future__ import annotations

from typing import Any

from gateway.contract import Agency, IntakeRequest, Item, Problem, SandboxSpec, hookimpl
from plugins.housing_fund import sandbox, wire
from plugins.housing_fund.client import HousingFundAgency


@hookimpl
def onewindow_agencies(config: Any) -> list[Agency]:
    """The agency, named as this district's configuration names it ([agencies.housing_fund])."""
    return [HousingFundAgency(config.agency_identity(HousingFundAgency.code))]


@hookimpl
def onewindow_sandboxes() -> list[SandboxSpec]:
    return [sandbox.spec()]


@hookimpl
def onewindow_validate(item: Item, request: IntakeRequest) -> list[Problem]:
    """Text the centre's GBK interface cannot carry (rare characters, 生僻字), told at intake."""
    if item.agency != HousingFundAgency.code:
        return []
    texts = {"applicant/name": request.applicant.name}
    texts |= {f"materials/{k}": v for k, v in request.materials.items() if isinstance(v, str)}
    return [
        Problem(
            path,
            "not_gbk",
            "含有公积金中心系统无法接收的生僻字，请到窗口人工办理",
            "contains characters the housing fund centre's system cannot receive; handle it at the window",
        )
        for path, text in texts.items()
        if not wire.encodable(text)
    ]
