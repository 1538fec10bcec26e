"""Which parts of a sealed document a printout shows, and under which labels.

A layout is data, declared per catalogue item (``[items.printout]`` in a
plugin's ``catalogue.toml``) or given as a file: a title, labelled fields
and labelled tables, each naming a path into the document's ``content``.
Nothing here knows an item or an agency, so any sealed document type that
comes with a layout renders; a document whose item declares none gets
:func:`generic_layout`, which labels every member by its name.

:func:`sheet_for` turns a document and a layout into a :class:`Sheet`, the
exact strings the page prints.  Content members a layout does not name are
still printed (under 其他内容, by member name): the seal covers the whole
document, so the paper never silently leaves part of it out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from signing.errors import LayoutError

RESULT_DOCUMENT_TYPE = "onewindow.result.v1"
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$")
_LAYOUT_KEYS = frozenset({"title", "fields", "tables", "note"})
_FIELD_KEYS = frozenset({"key", "label"})
_TABLE_KEYS = frozenset({"key", "title", "columns"})
MISSING = "—"


@dataclass(frozen=True, slots=True)
class Field:
    """One labelled value: ``key`` is a dotted path into ``content``."""

    key: str
    label: str


@dataclass(frozen=True, slots=True)
class Table:
    """A list of objects in ``content`` printed as a table, one column per declared member."""

    key: str
    title: str
    columns: tuple[Field, ...]


@dataclass(frozen=True, slots=True)
class Layout:
    """How one kind of document is printed; empty title: the document's item name."""

    title: str = ""
    fields: tuple[Field, ...] = ()
    tables: tuple[Table, ...] = ()
    note: str = ""
    declared: bool = True  # False for the generic layout

    def to_dict(self) -> dict[str, Any]:
        """The declaration form (what :func:`parse_layout` reads back)."""
        return {
            "title": self.title,
            "fields": [{"key": f.key, "label": f.label} for f in self.fields],
            "tables": [
                {"key": t.key, "title": t.title, "columns": [{"key": c.key, "label": c.label} for c in t.columns]}
                for t in self.tables
            ],
            "note": self.note,
        }


GENERIC = Layout(declared=False)


def _text(where: str, table: Mapping[str, Any], key: str, *, required: bool) -> str:
    value = table.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise LayoutError(f"{where}: '{key}' must be a non-empty string")
    return value.strip()


def _only(where: str, table: Any, keys: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(table, Mapping):
        raise LayoutError(f"{where}: must be a table")
    unknown = sorted(set(table) - keys)
    if unknown:
        raise LayoutError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(keys)}")
    return table


def _field(where: str, table: Any) -> Field:
    table = _only(where, table, _FIELD_KEYS)
    key = _text(where, table, "key", required=True)
    if not _KEY.fullmatch(key):
        raise LayoutError(f"{where}: key {key!r} must be a member name or a dotted path (a.b)")
    return Field(key, _text(where, table, "label", required=True))


def _list(where: str, value: Any) -> Sequence[Any]:
    if not isinstance(value, list):
        raise LayoutError(f"{where}: must be a list")
    return value


def parse_layout(data: Any, where: str = "printout") -> Layout:
    """Check a layout declaration (a TOML table or a JSON object) and return it; :class:`LayoutError` names the key."""
    table = _only(where, data, _LAYOUT_KEYS)
    fields = tuple(
        _field(f"{where}.fields[{i}]", f) for i, f in enumerate(_list(f"{where}.fields", table.get("fields", [])))
    )
    tables = []
    for i, raw in enumerate(_list(f"{where}.tables", table.get("tables", []))):
        at = f"{where}.tables[{i}]"
        spec = _only(at, raw, _TABLE_KEYS)
        key = _field(at, {"key": spec.get("key"), "label": "-"}).key
        columns = tuple(
            _field(f"{at}.columns[{j}]", c) for j, c in enumerate(_list(f"{at}.columns", spec.get("columns")))
        )
        if not columns:
            raise LayoutError(f"{at}.columns: a table needs at least one column")
        tables.append(Table(key, _text(at, spec, "title", required=True), columns))
    keys = [f.key for f in fields] + [t.key for t in tables]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise LayoutError(f"{where}: member(s) {repeated} printed twice")
    return Layout(
        _text(where, table, "title", required=False), fields, tuple(tables), _text(where, table, "note", required=False)
    )


def shown(value: Any) -> str:
    """How a value is printed: the same words wherever it appears, so a verifier can look for them."""
    if value is None or value == "":
        return MISSING
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, Mapping):
        return "；".join(f"{key}：{shown(inner)}" for key, inner in value.items()) or MISSING
    if isinstance(value, list):
        return ("、" if all(not isinstance(v, Mapping | list) for v in value) else "；").join(
            shown(v) for v in value
        ) or MISSING
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def mask_identifier(text: str) -> str:
    """A resident ID number or credit code as printed: first 6 and last 4 characters, the rest hidden."""
    if len(text) <= 10:
        return text[:2] + "*" * max(len(text) - 2, 0)
    return text[:6] + "*" * (len(text) - 10) + text[-4:]


def lookup(document: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path, or None."""
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


@dataclass(frozen=True, slots=True)
class PrintedTable:
    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class Sheet:
    """Every string the printout shows, in reading order (the renderer draws exactly this)."""

    title: str
    header: tuple[tuple[str, str], ...]  # the document's facts: number, applicant, office, ...
    fields: tuple[tuple[str, str], ...]
    tables: tuple[PrintedTable, ...]
    extra_fields: tuple[tuple[str, str], ...] = ()  # members the layout does not name, under 其他内容
    extra_tables: tuple[PrintedTable, ...] = ()
    note: str = ""
    issuer: str = ""  # the authority named beside the stamp
    date: str = ""  # the issue date, in words


def _is_table(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _scalars(value: Any, prefix: str) -> list[tuple[str, Any]]:
    """Every scalar member under ``value`` with its dotted path; lists of objects are tables, not scalars."""
    if isinstance(value, Mapping):
        found: list[tuple[str, Any]] = []
        for key, inner in value.items():
            found.extend(_scalars(inner, f"{prefix}.{key}" if prefix else str(key)))
        return found
    if _is_table(value):
        return []
    return [(prefix, value)]


def _tables(value: Any, prefix: str) -> list[tuple[str, list[dict[str, Any]]]]:
    if isinstance(value, Mapping):
        found: list[tuple[str, list[dict[str, Any]]]] = []
        for key, inner in value.items():
            found.extend(_tables(inner, f"{prefix}.{key}" if prefix else str(key)))
        return found
    return [(prefix, value)] if _is_table(value) else []


def _generic_table(key: str, rows: list[dict[str, Any]]) -> Table:
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(str(k) for k in row))
    return Table(key, key, tuple(Field(name, name) for name in names))


def _printed_table(table: Table, rows: Any) -> PrintedTable:
    """The table as printed: its declared columns, then every other member its rows have (by name)."""
    body = rows if _is_table(rows) else []
    declared = {c.key.split(".")[0] for c in table.columns}
    columns = list(table.columns) + [c for c in _generic_table(table.key, body).columns if c.key not in declared]
    printed = tuple(tuple(shown(lookup(row, column.key)) for column in columns) for row in body)
    return PrintedTable(table.title, tuple(c.label for c in columns), printed)


def _date_words(issued_at: Any) -> str:
    match = re.match(r"^(\d{4})-(\d{2})-(\d{2})", issued_at) if isinstance(issued_at, str) else None
    return f"{match.group(1)}年{int(match.group(2))}月{int(match.group(3))}日" if match else ""


def result_header(document: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The facts every result document prints above its content (masked identifier included)."""
    applicant = document.get("applicant") if isinstance(document.get("applicant"), Mapping) else {}
    number = applicant.get("id_number") if isinstance(applicant, Mapping) else None
    office = lookup(document, "office.name")
    office_code = lookup(document, "office.code")
    proxy = document.get("proxy")
    handled_by: tuple[tuple[str, str], ...] = ()
    if isinstance(proxy, Mapping):  # a proxy handled it for the applicant (帮办代办); its ID number is sealed masked
        handled_by = (("受托代办人", f"{shown(proxy.get('name'))}（{shown(proxy.get('id_number'))}）"),)
    return (
        ("文书编号", shown(document.get("agency_reference"))),
        ("办理事项", shown(lookup(document, "item_name.zh"))),
        ("申请人", shown(lookup(document, "applicant.name"))),
        ("证件号码", mask_identifier(number) if isinstance(number, str) and number else MISSING),
        *handled_by,
        ("受理单位", f"{shown(office)}（{shown(office_code)}）"),
        ("出具机关", shown(lookup(document, "agency.authority_zh"))),
        ("业务编号", shown(document.get("request_id"))),
    )


def sheet_for(document: Mapping[str, Any], layout: Layout) -> Sheet:
    """What the page shows for ``document`` (without its seal block) under ``layout``."""
    raw = document.get("content")
    content: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    named = {f.key for f in layout.fields} | {t.key for t in layout.tables}
    extra = tuple((k, shown(v)) for k, v in _scalars(content, "") if not _covered(k, named))
    extra_tables = tuple(
        _printed_table(_generic_table(k, rows), rows) for k, rows in _tables(content, "") if not _covered(k, named)
    )
    sheet = Sheet(
        title=layout.title or shown(lookup(document, "item_name.zh")),
        header=result_header(document),
        fields=tuple((f.label, shown(lookup(content, f.key))) for f in layout.fields),
        tables=tuple(_printed_table(t, lookup(content, t.key)) for t in layout.tables),
        note=layout.note,
        issuer=shown(lookup(document, "agency.authority_zh")),
        date=_date_words(document.get("issued_at")),
    )
    if layout.declared:
        return replace(sheet, extra_fields=extra, extra_tables=extra_tables)
    return replace(sheet, fields=sheet.fields + extra, tables=sheet.tables + extra_tables)


def printed_values(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(where, as printed)`` for every fact and content value a printout of ``document`` shows, any layout.

    Layouts only choose labels and order, so a verifier can ask the pages
    for these without knowing the layout; ``where`` names the fact's label or
    the member's path (``records[3].amount``), never its value.
    """
    raw = document.get("content")
    content: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    found = [(label, value) for label, value in result_header(document)]
    found += [(path, shown(value)) for path, value in _scalars(content, "")]
    for path, rows in _tables(content, ""):
        found += [(f"{path}[{i}].{key}", shown(value)) for i, row in enumerate(rows) for key, value in row.items()]
    return found


def _covered(path: str, named: set[str]) -> bool:
    return any(path == key or path.startswith(key + ".") for key in named)
