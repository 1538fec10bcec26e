"""Reading a plugin's catalogue file (TOML) into checked :class:`~gateway.catalogue.items.Item` objects.

Every field is checked, unknown fields are refused, and a mistake names the
plugin, the item and the field, so it is found by whoever deploys the
catalogue rather than by an applicant at the window.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from gateway.catalogue.examples import parse_examples
from gateway.catalogue.items import (
    APPLICANT_KINDS,
    CHANNELS,
    ITEM_KINDS,
    OFFICE_LEVELS,
    SEAL_KINDS,
    Item,
)
from gateway.catalogue.materials import MATERIAL_TYPES, MAX_LIST_ITEMS, Material
from gateway.catalogue.patterns import portability_problem
from gateway.catalogue.rules import parse_rules
from gateway.errors import CatalogueError
from signing.errors import LayoutError
from signing.printout.layout import Layout, parse_layout

_CODE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z0-9][a-z0-9-]*$")
_MATERIAL_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_CONSTRAINTS = {
    "text": {"min_length", "max_length", "pattern"},
    "integer": {"minimum", "maximum"},
    "number": {"minimum", "maximum"},
    "boolean": set(),
    "date": {"not_after_today", "not_before_today"},
    "enum": {"choices"},
    "resident_id": set(),
    "credit_code": set(),
    "phone": set(),
    "attachment": {"media_types", "max_bytes"},
    "list": {"min_items", "max_items"},
    "object": set(),
}
MAX_NESTING = 3  # a list of objects whose fields are lists of ... stops here


_ITEM_KEYS = frozenset(
    {
        "code",
        "name_zh",
        "name_en",
        "kind",
        "seal",
        "office_levels",
        "channels",
        "applicant_kinds",
        "materials",
        "pledge_replaces",
        "legal_basis",
        "time_limit_days",
        "steps",
        "long_running",
        "conditions_zh",
        "fee_zh",
        "deferrable",
        "max_age_hours",
        "rules",
        "examples",
        "printout",
    }
)
_MATERIAL_KEYS = frozenset(
    {"name", "type", "required", "description_zh", "description_en", "constraints", "sample", "items", "fields"}
)
_FIELD_KEYS = _MATERIAL_KEYS - {"sample"}  # a field of an object material: its sample is the object's
_ENTRY_KEYS = _FIELD_KEYS - {"name", "required"}  # what each entry of a list material is


class _Reader:
    """Reads one table of a catalogue file, naming the place of every mistake."""

    def __init__(self, where: str, table: Mapping[str, Any]) -> None:
        self.where = where
        self.table = table

    def only(self, keys: frozenset[str]) -> None:
        """Refuse unknown keys, so a misspelt field is not silently ignored."""
        unknown = sorted(set(self.table) - keys)
        if unknown:
            raise self.fail(unknown[0], f"is not a known field (known: {', '.join(sorted(keys))})")

    def fail(self, key: str, why: str) -> CatalogueError:
        return CatalogueError(f"{self.where}, field {key!r}: {why}")

    def text(self, key: str, *, required: bool = True, default: str = "") -> str:
        value = self.table.get(key, None if required else default)
        if not isinstance(value, str) or (required and not value.strip()):
            raise self.fail(key, "must be a non-empty string")
        return value

    def texts(self, key: str, *, allowed: Iterable[str] | None = None, required: bool = True) -> tuple[str, ...]:
        value = self.table.get(key, None if required else [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(key, "must be a list of non-empty strings")
        if required and not value:
            raise self.fail(key, "must not be empty")
        if allowed is not None:
            allowed = tuple(allowed)
            bad = [v for v in value if v not in allowed]
            if bad:
                raise self.fail(key, f"unknown value(s) {bad}; allowed: {', '.join(allowed)}")
        return tuple(value)

    def choice(self, key: str, allowed: Iterable[str], default: str | None = None) -> str:
        allowed = tuple(allowed)
        value = self.table.get(key, default)
        if value not in allowed:
            raise self.fail(key, f"must be one of {', '.join(allowed)} (got {value!r})")
        return value

    def boolean(self, key: str, default: bool | None = None) -> bool:
        value = self.table.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, "must be true or false")
        return value

    def number(self, key: str, default: float | None = None, *, integer: bool = False) -> Any:
        value = self.table.get(key, default)
        kinds = (int,) if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or value < 0:
            raise self.fail(key, "must be a non-negative " + ("integer" if integer else "number"))
        return value


def _material(plugin: str, item_code: str, table: Any, index: int) -> Material:
    where = f"plugin {plugin!r}, item {item_code!r}, material #{index + 1}"
    if not isinstance(table, dict):
        raise CatalogueError(f"{where}: must be a table")
    name = _Reader(where, table).text("name")
    return _spec(f"plugin {plugin!r}, item {item_code!r}, material {name!r}", table, _MATERIAL_KEYS, depth=0)


def _spec(where: str, table: Any, keys: frozenset[str], *, depth: int) -> Material:
    """One material, a field of an object material or the entries of a list material: ``keys`` says which."""
    if not isinstance(table, dict):
        raise CatalogueError(f"{where}: must be a table")
    r = _Reader(where, table)
    name = r.text("name") if "name" in keys else "entry"
    if not _MATERIAL_NAME.fullmatch(name):
        raise r.fail("name", "must be lower_snake_case")
    r.only(keys)
    kind = r.choice("type", MATERIAL_TYPES)
    constraints = _constraints(r, kind, table.get("constraints", {}))
    items, fields = _structure(r, kind, depth)
    return Material(
        name=name,
        type=kind,
        required=r.boolean("required", True) if "required" in keys else True,
        description_zh=r.text("description_zh"),
        description_en=r.text("description_en", required=False),
        constraints=constraints,
        sample=table.get("sample"),
        items=items,
        fields=fields,
    )


def _constraints(r: _Reader, kind: str, constraints: Any) -> dict[str, Any]:
    if not isinstance(constraints, dict):
        raise r.fail("constraints", "must be a table")
    unknown = set(constraints) - _CONSTRAINTS[kind]
    if unknown:
        raise r.fail("constraints", f"{sorted(unknown)} do not apply to type {kind!r}")
    if kind == "enum":
        choices = constraints.get("choices")
        if not (isinstance(choices, list) and choices and all(isinstance(c, str) and c for c in choices)):
            raise r.fail("constraints", "an enum needs a non-empty 'choices' list of non-empty strings")
        if len(set(choices)) != len(choices):
            raise r.fail("constraints", "an enum's choices repeat")
    if "pattern" in constraints:
        why = portability_problem(constraints["pattern"]) if isinstance(constraints["pattern"], str) else "not a string"
        if why is not None:
            raise r.fail("constraints", f"pattern {constraints['pattern']!r}: {why}")
    if kind == "list":
        constraints = {"min_items": 1, "max_items": MAX_LIST_ITEMS, **constraints}
        low, high = constraints["min_items"], constraints["max_items"]
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in (low, high)) or low > high:
            raise r.fail("constraints", "min_items and max_items must be whole numbers, min_items <= max_items")
    return dict(constraints)


def _structure(r: _Reader, kind: str, depth: int) -> tuple[Material | None, tuple[Material, ...]]:
    """A list's entry spec and an object's fields, each checked like a material."""
    for key, owner in (("items", "list"), ("fields", "object")):
        if key in r.table and kind != owner:
            raise r.fail(key, f"applies to type {owner!r} only")
    if kind not in ("list", "object"):
        return None, ()
    if depth + 1 > MAX_NESTING:
        raise r.fail("type", f"lists and objects nest at most {MAX_NESTING} deep")
    if kind == "list":
        if not isinstance(r.table.get("items"), dict):
            raise r.fail("items", "a list needs an 'items' table saying what each entry is")
        return _spec(f"{r.where}, entries", r.table["items"], _ENTRY_KEYS, depth=depth + 1), ()
    raw = r.table.get("fields")
    if not isinstance(raw, list) or not raw:
        raise r.fail("fields", "an object needs its 'fields' ([[...fields]] tables)")
    fields = tuple(
        _spec(
            f"{r.where}, field {f.get('name')!r}" if isinstance(f, dict) else r.where, f, _FIELD_KEYS, depth=depth + 1
        )
        for f in raw
    )
    names = [f.name for f in fields]
    if len(set(names)) != len(names):
        raise r.fail("fields", f"field names repeat: {sorted({n for n in names if names.count(n) > 1})}")
    return None, fields


def _item(plugin: str, agency: str, table: Any, index: int) -> Item:
    where = f"plugin {plugin!r}, item #{index + 1}"
    if not isinstance(table, dict):
        raise CatalogueError(f"{where}: must be a table")
    r = _Reader(where, table)
    code = r.text("code")
    r.where = f"plugin {plugin!r}, item {code!r}"
    if not _CODE.fullmatch(code):
        raise r.fail("code", "must look like '<agency>.<slug>', e.g. 'tax.payment-record'")
    if code.split(".", 1)[0] != agency:
        raise r.fail("code", f"must start with the agency code {agency!r}")
    r.only(_ITEM_KEYS)
    raw_materials = table.get("materials", [])
    if not isinstance(raw_materials, list):
        raise r.fail("materials", "must be a list of tables ([[items.materials]])")
    materials = tuple(_material(plugin, code, m, i) for i, m in enumerate(raw_materials))
    names = [m.name for m in materials]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise r.fail("materials", f"material names repeat: {duplicated}")
    pledge = r.texts("pledge_replaces", required=False)
    not_materials = [p for p in pledge if p not in names]
    if not_materials:
        raise r.fail("pledge_replaces", f"names no material of this item: {not_materials}")
    return Item(
        code=code,
        name_zh=r.text("name_zh"),
        name_en=r.text("name_en"),
        agency=agency,
        kind=r.choice("kind", ITEM_KINDS),
        seal=r.choice("seal", SEAL_KINDS),
        office_levels=r.texts("office_levels", allowed=OFFICE_LEVELS),
        channels=r.texts("channels", allowed=CHANNELS),
        applicant_kinds=r.texts("applicant_kinds", allowed=APPLICANT_KINDS),
        materials=materials,
        pledge_replaces=pledge,
        legal_basis=r.texts("legal_basis"),
        time_limit_days=r.number("time_limit_days", integer=True),
        steps=r.texts("steps"),
        long_running=r.boolean("long_running", False),
        conditions_zh=r.texts("conditions_zh", required=False),
        fee_zh=r.text("fee_zh", required=False, default="不收费"),
        deferrable=r.boolean("deferrable", True),
        max_age_hours=r.number("max_age_hours", 72.0),
        plugin=plugin,
        rules=parse_rules(r.where, table.get("rules"), materials, pledge),
        examples=parse_examples(r.where, table.get("examples"), materials, pledge),
        printout=_printout(r.where, table.get("printout")),
    )


def _printout(where: str, table: Any) -> Layout | None:
    """``[items.printout]``: the item's printout layout (signing.printout.layout), checked now."""
    if table is None:
        return None
    try:
        return parse_layout(table, f"{where}, printout")
    except LayoutError as exc:
        raise CatalogueError(str(exc)) from None


def load_items(path: Path, *, plugin: str, agency: str) -> list[Item]:
    """Load and check the catalogue file of one agency plugin."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogueError(f"plugin {plugin!r}: catalogue file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"plugin {plugin!r}: catalogue file {path} is not TOML: {exc}") from None
    items = data.get("items")
    if not isinstance(items, list) or not items:
        raise CatalogueError(f"plugin {plugin!r}: catalogue file {path} declares no [[items]]")
    return [_item(plugin, agency, table, i) for i, table in enumerate(items)]
