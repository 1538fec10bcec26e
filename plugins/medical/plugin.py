"""Hook implementations of the medical insurance plugin (entry point ``medical``)."""

from __future__ import annotations

from typing import Any

from gateway.contract import Agency, IntakeRequest, Item, Problem, SandboxSpec, hookimpl
from plugins.medical import sandbox
from plugins.medical.client import MedicalAgency

MAX_RECORD_YEARS = 10


@hookimpl
def onewindow_agencies(config: Any) -> list[Agency]:
    return [MedicalAgency()]


@hookimpl
def onewindow_sandboxes() -> list[SandboxSpec]:
    return [sandbox.spec()]


def _record_years(request: IntakeRequest) -> list[Problem]:
    start, end = request.materials.get("start_year"), request.materials.get("end_year")
    if not (isinstance(start, int) and isinstance(end, int)):
        return []
    if end < start:
        return [
            Problem("materials/end_year", "period_order", "截止年度不能早于起始年度", "end_year is before start_year")
        ]
    if end - start >= MAX_RECORD_YEARS:
        return [
            Problem(
                "materials/end_year",
                "period_too_long",
                f"一次最多查询{MAX_RECORD_YEARS}个年度，请分段查询",
                f"at most {MAX_RECORD_YEARS} years can be asked for at once",
            )
        ]
    return []


def _newborn(request: IntakeRequest) -> list[Problem]:
    newborn, birth = request.materials.get("newborn_id_number"), request.materials.get("birth_date")
    if not (isinstance(newborn, str) and isinstance(birth, str)):
        return []
    problems = []
    if newborn == request.applicant.id_number:
        problems.append(
            Problem(
                "materials/newborn_id_number",
                "is_applicant",
                "新生儿公民身份号码不能与申请人（监护人）相同",
                "the newborn's ID number is the applicant's own",
            )
        )
    elif newborn[6:14] != birth.replace("-", ""):
        problems.append(
            Problem(
                "materials/birth_date",
                "birth_date_mismatch",
                "出生日期与新生儿公民身份号码中的出生日期不一致",
                "birth_date differs from the birth date in newborn_id_number",
            )
        )
    return problems


@hookimpl
def onewindow_validate(item: Item, request: IntakeRequest) -> list[Problem]:
    """Rules across materials, checked at intake so the window hears them all at once.

    The bureau refuses both with a less precise answer after the call
    (10001 for the year range, 20006 for a newborn's birth date).
    """
    if item.code == "medical.contribution-record":
        return _record_years(request)
    if item.code == "medical.newborn-enrolment":
        return _newborn(request)
    return []
