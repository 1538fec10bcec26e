"""The service catalogue (事项目录清单): items, their materials and guides.

Each agency plugin ships a TOML catalogue file; the core loads it here and
refuses to start on a malformed entry, naming the plugin, item and field, so
a mistake in a catalogue is found by whoever deploys it rather than by an
applicant at the window.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.catalogue.materials import Material
from gateway.errors import CatalogueError
from signing.printout.layout import Layout

if TYPE_CHECKING:
    from gateway.catalogue.rules import Rule


OFFICE_LEVELS = ("town", "street_office", "village_station")
CHANNELS = ("window", "village_station", "kiosk", "partner_outlet", "helper", "online")
ITEM_KINDS = ("query", "application")
SEAL_KINDS = ("service_centre", "delegated_approval")
APPLICANT_KINDS = ("person", "organisation")


@dataclass(frozen=True)
class Example:
    """An example request for an item, as its catalogue declares it: who applies, with which materials.

    ``materials`` is complete (the materials' samples overlaid with the
    example's own values); where the request is made -- office, operator,
    channel -- belongs to the district, which completes the envelope.
    """

    summary: str
    applicant: Mapping[str, Any]
    materials: Mapping[str, Any]
    pledge: Mapping[str, Any] | None = None


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
    rules: tuple[Rule, ...] = ()  # cross-field rules (gateway.catalogue.rules)
    examples: tuple[Example, ...] = ()
    printout: Layout | None = None  # [items.printout]: how its sealed result is printed; None: the generic layout

    def material(self, name: str) -> Material | None:
        """The material called ``name``, or None."""
        return next((m for m in self.materials if m.name == name), None)

    def guide(self, max_attachment_bytes: int | None = None) -> dict[str, Any]:
        """The service guide (服务指南) of this item, as the API returns it.

        ``max_attachment_bytes`` is the gateway's own limit on one attachment,
        so the guide states the cap that really applies.
        """
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
            "materials": [m.guide(max_attachment_bytes) for m in self.materials],
            "pledge_replaces": list(self.pledge_replaces),
            "rules": [rule.guide() for rule in self.rules],
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

    def facts(self) -> dict[str, Any]:
        """What the catalogue listing filters on, by filter name."""
        return {
            "agency": self.agency,
            "kind": self.kind,
            "seal": self.seal,
            "office_level": self.office_levels,
            "channel": self.channels,
            "applicant_kind": self.applicant_kinds,
            "long_running": self.long_running,
            "deferrable": self.deferrable,
            "pledge": bool(self.pledge_replaces),
            "time_limit_days": self.time_limit_days,
        }


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

    def filter(self, **wanted: Any) -> list[Item]:
        """Items matching every given filter (see :data:`FILTERS`), in code order; None means "any".

        A filter on a list fact (office levels, channels, applicant kinds) matches an item that lists the value.
        """
        unknown = sorted(set(wanted) - set(FILTERS))
        if unknown:
            raise CatalogueError(f"no catalogue filter is called {unknown[0]!r} (filters: {', '.join(FILTERS)})")
        chosen = {name: value for name, value in wanted.items() if value is not None}
        return [item for item in self if all(_matches(item.facts()[name], v) for name, v in chosen.items())]


def _matches(fact: Any, value: Any) -> bool:
    if isinstance(fact, tuple):
        return value in fact
    return type(fact) is type(value) and fact == value


#: The catalogue listing's filters: each one's allowed values, or the type of its value.
FILTERS: dict[str, tuple[str, ...] | type] = {
    "agency": str,
    "kind": ITEM_KINDS,
    "seal": SEAL_KINDS,
    "office_level": OFFICE_LEVELS,
    "channel": CHANNELS,
    "applicant_kind": APPLICANT_KINDS,
    "long_running": bool,
    "deferrable": bool,
    "pledge": bool,
    "time_limit_days": int,
}


def matches_any(code: str, patterns: Iterable[str]) -> bool:
    """True when ``code`` matches one of the glob ``patterns`` (``tax.*``, ``*``)."""
    return any(fnmatch.fnmatchcase(code, p) for p in patterns)
