"""Hook implementations of the social security plugin (entry point ``social_security``)."""

from __future__ import annotations

from typing import Any

from gateway.contract import Agency, IntakeRequest, Item, Problem, SandboxSpec, hookimpl
from plugins.social_security import sandbox
from plugins.social_security.client import SocialSecurityAgency

MAX_CERTIFICATE_MONTHS = 60


@hookimpl
def onewindow_agencies(config: Any) -> list[Agency]:
    return [SocialSecurityAgency()]


@hookimpl
def onewindow_sandboxes() -> list[SandboxSpec]:
    return [sandbox.spec()]


@hookimpl
def onewindow_validate(item: Item, request: IntakeRequest) -> list[Problem]:
    """The certificate period must run forwards and span at most 60 months (the bureau's limit).

    Checked at intake so the applicant hears it at the window, all at once,
    rather than as the bureau's REQ-3004 fault after the call.
    """
    if item.code != "social_security.payment-certificate":
        return []
    start, end = request.materials.get("start_month"), request.materials.get("end_month")
    if not (isinstance(start, str) and isinstance(end, str)):
        return []
    months = (int(end[:4]) - int(start[:4])) * 12 + int(end[5:7]) - int(start[5:7]) + 1
    if months < 1:
        return [
            Problem(
                "materials/end_month",
                "period_order",
                "查询终止年月不能早于开始年月",
                "end_month is before start_month",
            )
        ]
    if months > MAX_CERTIFICATE_MONTHS:
        return [
            Problem(
                "materials/end_month",
                "period_too_long",
                f"查询期间不能超过{MAX_CERTIFICATE_MONTHS}个月，请分段开具",
                f"the period may span at most {MAX_CERTIFICATE_MONTHS} months; ask for several",
            )
        ]
    return []
