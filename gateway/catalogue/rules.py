"""Cross-field rules (跨字段规则): what an item's materials must satisfy together.

A tax payment record whose period ends before it starts is nonsense the
agency may still certify; a certificate of a sixty-year period is one the
bureau refuses after the call. Such rules belong to the item, so they are
declared in its catalogue entry (``[[items.rules]]``), checked when the
catalogue loads (the materials they name exist and have the right types),
shown in the service guide, and checked by the core at intake with every
other problem (:mod:`gateway.intake.cross_field`).

Kinds, and the keys each takes:

``period_order`` (``start``, ``end``, optional ``strict``)
    ``end`` is not before ``start`` (with ``strict``: after it).
``longest_span`` (``start``, ``end``, ``max``)
    the period from ``start`` to ``end``, both counted, is at most ``max``
    units long.
``required_when`` (``material``, ``when``, ``equals``)
    ``material`` must be given when ``when`` is one of ``equals``.
``only_when`` (``material``, ``when``, ``equals``)
    ``material`` may be given only when ``when`` is one of ``equals``.
``pledge_only_when`` (``material``, ``when``, ``equals``)
    a pledge may replace ``material`` only when ``when`` is one of ``equals``.
``birth_date_in_id`` (``date``, ``id``)
    ``date`` is the birth date inside the resident ID number ``id``.
``not_applicant`` (``material``)
    the ID number or credit code ``material`` is not the applicant's own.

A period's unit follows its materials' type: days for ``date``, months for
``text`` holding ``YYYY-MM`` (the material needs a ``pattern``), years for
``integer``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.catalogue.materials import Material
from gateway.errors import CatalogueError

UNITS = {"date": "day", "text": "month", "integer": "year"}
UNIT_WORDS = {"day": ("天", "days"), "month": ("个月", "months"), "year": ("个年度", "years")}
_KEYS = {
    "period_order": {"start", "end", "strict"},
    "longest_span": {"start", "end", "max"},
    "required_when": {"material", "when", "equals"},
    "only_when": {"material", "when", "equals"},
    "pledge_only_when": {"material", "when", "equals"},
    "birth_date_in_id": {"date", "id"},
    "not_applicant": {"material"},
}
RULE_KINDS = tuple(_KEYS)


@dataclass(frozen=True)
class Rule:
    """One declared rule: ``material`` is what it is about, ``other`` what it is checked against."""

    kind: str
    material: str  # the end of a period, the conditional material, the date, the ID number
    other: str = ""  # the start of a period, the ``when`` material, the resident ID; "" for not_applicant
    equals: tuple[Any, ...] = ()  # values of ``other`` (required_when, only_when, pledge_only_when)
    max: int = 0  # longest_span, in ``unit``s
    strict: bool = False  # period_order: the end must come after the start, not on it
    unit: str = ""  # day | month | year, for periods
    statement_zh: str = ""  # the rule in words: the guide shows it, and a problem with it says it
    statement_en: str = ""

    def guide(self) -> dict[str, Any]:
        """The rule as the service guide shows it: in words, with its kind, materials and parameters."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "materials": [m for m in (self.other, self.material) if m],
            "statement_zh": self.statement_zh,
            "statement_en": self.statement_en,
        }
        if self.equals:
            out["equals"] = list(self.equals)
        if self.unit:
            out["unit"] = self.unit
        if self.kind == "longest_span":
            out["max"] = self.max
        if self.strict:
            out["strict"] = True
        return out


def parse_rules(
    where: str, raw: Any, materials: tuple[Material, ...], pledge_replaces: tuple[str, ...]
) -> tuple[Rule, ...]:
    """The ``rules`` list of one item, each checked against the item's materials."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise CatalogueError(f"{where}, field 'rules': must be a list of tables ([[items.rules]])")
    by_name = {m.name: m for m in materials}
    return tuple(_rule(f"{where}, rule #{i + 1}", table, by_name, pledge_replaces) for i, table in enumerate(raw))


def _rule(where: str, table: Any, materials: Mapping[str, Material], pledge_replaces: tuple[str, ...]) -> Rule:
    if not isinstance(table, Mapping):
        raise CatalogueError(f"{where}: must be a table")
    kind = table.get("kind")
    if kind not in _KEYS:
        raise CatalogueError(f"{where}, field 'kind': must be one of {', '.join(RULE_KINDS)} (got {kind!r})")
    unknown = sorted(set(table) - _KEYS[kind] - {"kind"})
    if unknown:
        raise CatalogueError(f"{where}, field {unknown[0]!r}: does not apply to a {kind} rule")
    missing = sorted(k for k in _KEYS[kind] - {"strict"} if k not in table)
    if missing:
        raise CatalogueError(f"{where}, field {missing[0]!r}: a {kind} rule needs it")

    def material(key: str, *types: str) -> Material:
        found = materials.get(table[key]) if isinstance(table[key], str) else None
        if found is None:
            raise CatalogueError(f"{where}, field {key!r}: names no material of this item ({table[key]!r})")
        if types and found.type not in types:
            raise CatalogueError(
                f"{where}, field {key!r}: {found.name} has type {found.type}; it needs {' or '.join(types)}"
            )
        return found

    if kind in ("period_order", "longest_span"):
        return _period(where, kind, table, material("start", *UNITS), material("end", *UNITS))
    if kind in ("required_when", "only_when", "pledge_only_when"):
        return _conditional(
            where, kind, table, material("material"), material("when", "enum", "boolean"), pledge_replaces
        )
    if kind == "birth_date_in_id":
        day, number = material("date", "date"), material("id", "resident_id")
        zh = f"{day.description_zh}应与{number.description_zh}中的出生日期一致"
        return Rule(
            kind,
            day.name,
            number.name,
            statement_zh=zh,
            statement_en=f"{day.name} must be the birth date in {number.name}",
        )
    number = material("material", "resident_id", "credit_code")
    zh = f"{number.description_zh}不能是申请人本人的证件号码"
    return Rule(
        kind, number.name, statement_zh=zh, statement_en=f"{number.name} must not be the applicant's own number"
    )


def _period(where: str, kind: str, table: Mapping[str, Any], start: Material, end: Material) -> Rule:
    if start.name == end.name:
        raise CatalogueError(f"{where}, field 'end': a period needs two different materials")
    if start.type != end.type:
        raise CatalogueError(f"{where}, field 'end': {start.name} has type {start.type} but {end.name} {end.type}")
    if start.type == "text" and not all("pattern" in m.constraints for m in (start, end)):
        raise CatalogueError(f"{where}, field 'start': month materials need a pattern (YYYY-MM) constraint")
    strict = table.get("strict", False)
    if not isinstance(strict, bool):
        raise CatalogueError(f"{where}, field 'strict': must be true or false")
    longest = table.get("max", 0)
    if kind == "longest_span" and (isinstance(longest, bool) or not isinstance(longest, int) or longest < 1):
        raise CatalogueError(f"{where}, field 'max': must be a whole number of {UNITS[start.type]}s, at least 1")
    unit = UNITS[start.type]
    if kind == "longest_span":
        unit_zh, unit_en = UNIT_WORDS[unit]
        zh = f"{start.description_zh}至{end.description_zh}不能超过{longest}{unit_zh}，请分段办理"
        en = f"{start.name} to {end.name} may span at most {longest} {unit_en}, both counted; ask for several"
    elif strict:
        zh, en = f"{end.description_zh}应晚于{start.description_zh}", f"{end.name} must be after {start.name}"
    else:
        zh, en = f"{end.description_zh}不能早于{start.description_zh}", f"{end.name} must not be before {start.name}"
    return Rule(kind, end.name, start.name, max=longest, strict=strict, unit=unit, statement_zh=zh, statement_en=en)


def _conditional(
    where: str, kind: str, table: Mapping[str, Any], subject: Material, when: Material, pledge_replaces: tuple[str, ...]
) -> Rule:
    if subject.name == when.name:
        raise CatalogueError(f"{where}, field 'when': a material cannot depend on itself")
    equals = table["equals"]
    if not isinstance(equals, list) or not equals:
        raise CatalogueError(f"{where}, field 'equals': must be a non-empty list of {when.name}'s values")
    possible: list[Any] = list(when.constraints.get("choices", [])) if when.type == "enum" else [True, False]
    wrong = [v for v in equals if not any(v == p and type(v) is type(p) for p in possible)]
    if wrong:
        raise CatalogueError(f"{where}, field 'equals': {wrong} are not values of {when.name}")
    if kind == "required_when" and subject.required:
        raise CatalogueError(f"{where}, field 'material': {subject.name} is always required already")
    if kind == "pledge_only_when" and subject.name not in pledge_replaces:
        raise CatalogueError(f"{where}, field 'material': {subject.name} is not in pledge_replaces")
    values_zh = "、".join(f"“{_word_zh(v)}”" for v in equals)
    values_en = " or ".join(_word_en(v) for v in equals)
    if kind == "required_when":
        zh = f"{when.description_zh}为{values_zh}时须填写{subject.description_zh}"
        en = f"{subject.name} is required when {when.name} is {values_en}"
    elif kind == "only_when":
        zh = f"仅当{when.description_zh}为{values_zh}时填写{subject.description_zh}"
        en = f"{subject.name} may be given only when {when.name} is {values_en}"
    else:
        zh = f"仅当{when.description_zh}为{values_zh}时，{subject.description_zh}可以告知承诺代替"
        en = f"a pledge may replace {subject.name} only when {when.name} is {values_en}"
    return Rule(kind, subject.name, when.name, equals=tuple(equals), statement_zh=zh, statement_en=en)


def _word_zh(value: Any) -> str:
    return ("是" if value else "否") if isinstance(value, bool) else str(value)


def _word_en(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else repr(value)
