"""The service catalogue (事项目录清单): items, their materials and guides.

Each agency plugin ships a TOML catalogue file; the core loads it here and
refuses to start on a malformed entry, naming the plugin, item and field, so
a mistake in a catalogue is found by whoever deploys it rather than by an
applicant at the window.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OFFICE_LEVELS = ("town", "street_office", "village_station")
CHANNELS = ("window", "village_station", "kiosk", "partner_outlet", "helper", "online")
ITEM_KINDS = ("query", "application")
SEAL_KINDS = ("service_centre", "delegated_approval")
APPLICANT_KINDS = ("person", "organisation")
MATERIAL_TYPES = (
    "text",
    "integer",
    "number",
    "boolean",
    "date",
    "enum",
    "resident_id",
    "credit_code",
    "phone",
    "attachment",
)
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
}


class CatalogueError(ValueError):
    """A catalogue file is malformed; the message names plugin, item and field."""


@dataclass(frozen=True)
class Material:
    """One material (申请材料) an item asks for."""

    name: str
    type: str
    required: bool
    description_zh: str
    description_en: str = ""
    constraints: Mapping[str, Any] = field(default_factory=dict)
    sample: Any = None

    def guide(self) -> dict[str, Any]:
        """The material as shown in the service guide."""
        return {
            "name": self.name,
            "type": self.type,
            "required": self.required,
            "description_zh": self.description_zh,
            "description_en": self.description_en,
            "constraints": dict(self.constraints),
        }

    def constraint_notes(self, max_attachment_bytes: int | None = None) -> list[str]:
        """The material's constraints in words, for a person reading the guide on a terminal.

        ``max_attachment_bytes`` is the gateway's own limit, which caps an attachment's ``max_bytes``.
        """
        c, notes = self.constraints, []
        if self.type == "enum":
            notes.append("one of: " + ", ".join(map(str, c["choices"])))
        elif self.type == "text":
            low, high = c.get("min_length"), c.get("max_length")
            if low is not None and high is not None:
                notes.append(f"{low}-{high} characters")
            elif low is not None or high is not None:
                notes.append(f"at least {low} characters" if high is None else f"at most {high} characters")
            if "pattern" in c:
                notes.append(f"pattern {c['pattern']}")
        elif self.type in ("integer", "number"):
            low, high = c.get("minimum"), c.get("maximum")
            if low is not None and high is not None:
                notes.append(f"from {low} to {high}")
            elif low is not None or high is not None:
                notes.append(f"at least {low}" if high is None else f"at most {high}")
        elif self.type == "date":
            notes.append("YYYY-MM-DD")
            notes += [f"not {when} today" for when in ("after", "before") if c.get(f"not_{when}_today")]
        elif self.type in _IDENTIFIER_NOTES:
            notes.append(_IDENTIFIER_NOTES[self.type])
        elif self.type == "attachment":
            if c.get("media_types"):
                notes.append("media types: " + ", ".join(c["media_types"]))
            limit = c.get("max_bytes", max_attachment_bytes)
            if limit is not None and max_attachment_bytes is not None and limit > max_attachment_bytes:
                notes.append(
                    f"at most {_size(max_attachment_bytes)} (the item allows {_size(limit)}; "
                    "server.max_attachment_bytes is lower)"
                )
            elif limit is not None:
                notes.append(f"at most {_size(limit)}")
        return notes


_IDENTIFIER_NOTES = {
    "resident_id": "resident ID number, check digit verified (GB 11643)",
    "credit_code": "unified social credit code, check character verified (GB 32100)",
    "phone": "mainland mobile number",
}


def _size(count: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= scale and count % scale == 0:
            return f"{count // scale} {unit}"
    return f"{count:,} bytes"


@dataclass(frozen=True)
class Item:
    """One catalogue item: what may be requested, by whom, with what."""

    code: str
    name_zh: str
    name_en: str
    agency: str
    kind: str
    seal: str
    office_levels: tuple[str, ...]
    channels: tuple[str, ...]
    applicant_kinds: tuple[str, ...]
    materials: tuple[Material, ...]
    pledge_replaces: tuple[str, ...]
    legal_basis: tuple[str, ...]
    time_limit_days: int
    steps: tuple[str, ...]
    long_running: bool
    conditions_zh: tuple[str, ...] = ()
    fee_zh: str = "不收费"
    deferrable: bool = True
    max_age_hours: float = 72.0
    plugin: str = ""

    def material(self, name: str) -> Material | None:
        """The material called ``name``, or None."""
        return next((m for m in self.materials if m.name == name), None)

    def guide(self) -> dict[str, Any]:
        """The service guide (服务指南) of this item, as the API returns it."""
        return {
            "code": self.code,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "agency": self.agency,
            "kind": self.kind,
            "seal": self.seal,
            "office_levels": list(self.office_levels),
            "channels": list(self.channels),
            "applicant_kinds": list(self.applicant_kinds),
            "conditions_zh": list(self.conditions_zh),
            "materials": [m.guide() for m in self.materials],
            "pledge_replaces": list(self.pledge_replaces),
            "legal_basis": list(self.legal_basis),
            "time_limit_days": self.time_limit_days,
            "steps": list(self.steps),
            "fee_zh": self.fee_zh,
            "long_running": self.long_running,
            "deferrable": self.deferrable,
        }

    def summary(self) -> dict[str, Any]:
        """The short form used in catalogue listings."""
        return {
            "code": self.code,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "agency": self.agency,
            "kind": self.kind,
            "seal": self.seal,
            "office_levels": list(self.office_levels),
            "channels": list(self.channels),
            "time_limit_days": self.time_limit_days,
            "long_running": self.long_running,
        }


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
    }
)
_MATERIAL_KEYS = frozenset({"name", "type", "required", "description_zh", "description_en", "constraints", "sample"})


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
    r = _Reader(where, table)
    name = r.text("name")
    r.where = f"plugin {plugin!r}, item {item_code!r}, material {name!r}"
    if not _MATERIAL_NAME.match(name):
        raise r.fail("name", "must be lower_snake_case")
    r.only(_MATERIAL_KEYS)
    kind = r.choice("type", MATERIAL_TYPES)
    constraints = table.get("constraints", {})
    if not isinstance(constraints, dict):
        raise r.fail("constraints", "must be a table")
    unknown = set(constraints) - _CONSTRAINTS[kind]
    if unknown:
        raise r.fail("constraints", f"{sorted(unknown)} do not apply to type {kind!r}")
    if kind == "enum" and not (isinstance(constraints.get("choices"), list) and constraints["choices"]):
        raise r.fail("constraints", "an enum needs a non-empty 'choices' list")
    if "pattern" in constraints:
        try:
            re.compile(constraints["pattern"])
        except (re.error, TypeError) as exc:
            raise r.fail("constraints", f"pattern does not compile: {exc}") from None
    return Material(
        name=name,
        type=kind,
        required=r.boolean("required", True),
        description_zh=r.text("description_zh"),
        description_en=r.text("description_en", required=False),
        constraints=dict(constraints),
        sample=table.get("sample"),
    )


def _item(plugin: str, agency: str, table: Any, index: int) -> Item:
    where = f"plugin {plugin!r}, item #{index + 1}"
    if not isinstance(table, dict):
        raise CatalogueError(f"{where}: must be a table")
    r = _Reader(where, table)
    code = r.text("code")
    r.where = f"plugin {plugin!r}, item {code!r}"
    if not _CODE.match(code):
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
    )


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


class Catalogue:
    """All items the gateway offers, looked up by code and filtered for listings."""

    def __init__(self, items: Iterable[Item] = ()) -> None:
        self._items: dict[str, Item] = {}
        for item in items:
            self.add(item)

    def add(self, item: Item) -> None:
        """Add one item; two plugins may not declare the same code."""
        existing = self._items.get(item.code)
        if existing is not None:
            raise CatalogueError(
                f"plugin {item.plugin!r}, item {item.code!r}, field 'code': "
                f"already declared by plugin {existing.plugin!r}"
            )
        self._items[item.code] = item

    def get(self, code: str) -> Item | None:
        """The item with this code, or None."""
        return self._items.get(code)

    def __iter__(self) -> Iterator[Item]:
        return iter(sorted(self._items.values(), key=lambda i: i.code))

    def __len__(self) -> int:
        return len(self._items)

    def filter(
        self,
        *,
        agency: str | None = None,
        office_level: str | None = None,
        channel: str | None = None,
        kind: str | None = None,
    ) -> list[Item]:
        """Items matching every given filter, in code order."""
        return [
            item
            for item in self
            if (agency is None or item.agency == agency)
            and (office_level is None or office_level in item.office_levels)
            and (channel is None or channel in item.channels)
            and (kind is None or item.kind == kind)
        ]


def matches_any(code: str, patterns: Iterable[str]) -> bool:
    """True when ``code`` matches one of the glob ``patterns`` (``tax.*``, ``*``)."""
    return any(fnmatch.fnmatchcase(code, p) for p in patterns)
