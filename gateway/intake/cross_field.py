"""Checking an item's cross-field rules (:mod:`gateway.catalogue.rules`) against one request.

Called by :func:`gateway.intake.validation.check_materials` with the
materials that passed their own checks, so a rule never trips over a value
that is already reported as malformed (that one problem is enough), and its
problems join every other one in the same answer (一次性告知). Each problem
names the material it is about in ``path`` and the material it was checked
against in ``related``, and says the rule in the words of the service guide.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from gateway.catalogue.items import Item
from gateway.catalogue.rules import Rule
from gateway.contract import Problem

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class Facts:
    """What the rules may look at: valid materials, those given at all, the pledge and the applicant."""

    valid: Mapping[str, Any]  # materials that passed their own checks
    given: frozenset[str]  # materials present with a value, valid or not
    pledged: frozenset[str]  # materials the applicant's pledge replaces
    applicant_id: str | None  # the applicant's ID number or credit code, when it was readable


def check_rules(item: Item, facts: Facts) -> list[Problem]:
    """Every problem with ``item``'s declared rules; an empty list when they hold."""
    problems: list[Problem] = []
    for rule in item.rules:
        problem = _CHECKS[rule.kind](rule, facts)
        if problem is not None:
            problems.append(problem)
    return problems


def _problem(rule: Rule, code: str, path: str | None = None) -> Problem:
    related = (f"materials/{rule.other}",) if rule.other else ("applicant/id_number",)
    return Problem(path or f"materials/{rule.material}", code, rule.statement_zh, rule.statement_en, related)


def _ordinal(rule: Rule, value: Any) -> int | None:
    """A period bound as a count of its unit (days, months, years), or None when it cannot be read."""
    if rule.unit == "day" and isinstance(value, str):
        return date.fromisoformat(value).toordinal()
    if rule.unit == "month" and isinstance(value, str) and (month := _MONTH.match(value)):
        return int(month.group(1)) * 12 + int(month.group(2)) - 1
    if rule.unit == "year" and isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _bounds(rule: Rule, facts: Facts) -> tuple[int, int] | None:
    start, end = (_ordinal(rule, facts.valid.get(name)) for name in (rule.other, rule.material))
    return None if start is None or end is None else (start, end)


def _period_order(rule: Rule, facts: Facts) -> Problem | None:
    bounds = _bounds(rule, facts)
    if bounds is None:
        return None
    start, end = bounds
    return _problem(rule, "period_order") if end < start or (rule.strict and end == start) else None


def _longest_span(rule: Rule, facts: Facts) -> Problem | None:
    bounds = _bounds(rule, facts)
    if bounds is None or bounds[1] < bounds[0]:  # a backwards period is period_order's to report
        return None
    return _problem(rule, "period_too_long") if bounds[1] - bounds[0] + 1 > rule.max else None


def _condition_met(rule: Rule, facts: Facts) -> bool | None:
    """Whether ``rule.other`` has one of ``rule.equals``; None when it has no valid value."""
    if rule.other not in facts.valid:
        return None
    value = facts.valid[rule.other]
    return any(value == wanted and type(value) is type(wanted) for wanted in rule.equals)


def _required_when(rule: Rule, facts: Facts) -> Problem | None:
    present = rule.material in facts.given or rule.material in facts.pledged
    return _problem(rule, "required") if _condition_met(rule, facts) is True and not present else None


def _only_when(rule: Rule, facts: Facts) -> Problem | None:
    met = _condition_met(rule, facts)
    return _problem(rule, "not_applicable") if rule.material in facts.given and met is not True else None


def _pledge_only_when(rule: Rule, facts: Facts) -> Problem | None:
    if rule.material not in facts.pledged or _condition_met(rule, facts) is not False:
        return None
    return _problem(rule, "pledge_not_allowed", "pledge/replaces")


def _birth_date_in_id(rule: Rule, facts: Facts) -> Problem | None:
    day, number = facts.valid.get(rule.material), facts.valid.get(rule.other)
    if not (isinstance(day, str) and isinstance(number, str)):
        return None
    return _problem(rule, "birth_date_mismatch") if number[6:14] != day.replace("-", "") else None


def _not_applicant(rule: Rule, facts: Facts) -> Problem | None:
    number = facts.valid.get(rule.material)
    if not isinstance(number, str) or facts.applicant_id is None:
        return None
    return _problem(rule, "is_applicant") if number.upper() == facts.applicant_id.upper() else None


_CHECKS: dict[str, Callable[[Rule, Facts], Problem | None]] = {
    "period_order": _period_order,
    "longest_span": _longest_span,
    "required_when": _required_when,
    "only_when": _only_when,
    "pledge_only_when": _pledge_only_when,
    "birth_date_in_id": _birth_date_in_id,
    "not_applicant": _not_applicant,
}
