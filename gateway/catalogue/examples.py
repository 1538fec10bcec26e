"""An item's example requests (``[[items.examples]]``): what a valid application looks like.

An integrator learns an item faster from one envelope the gateway accepts
than from a page of constraints, and a generated client or a fuzzer needs
one to reach past validation. So each item declares who applies in its
example (an applicant its agency's sandbox knows) and, where they differ
from the materials' samples, the example's own values; the samples fill in
the rest, so a sample is written once. Where the request is made (office,
operator, channel) belongs to the district: the gateway completes the
envelope from its configuration when it serves the guide and the schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.catalogue.items import Example
from gateway.catalogue.materials import Material
from gateway.errors import CatalogueError

_KEYS = frozenset({"summary", "applicant", "materials", "omit", "pledge"})
_APPLICANT_KEYS = frozenset({"kind", "id_number", "name", "phone"})
_PLEDGE_KEYS = frozenset({"replaces", "statement", "signed_by", "signed_at"})


def parse_examples(
    where: str, raw: Any, materials: tuple[Material, ...], pledge_replaces: tuple[str, ...]
) -> tuple[Example, ...]:
    """The ``examples`` list of one item; whether the gateway accepts each is for the tests (and the kit) to prove."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise CatalogueError(f"{where}, field 'examples': must be a list of tables ([[items.examples]])")
    return tuple(
        _example(f"{where}, example #{i + 1}", table, materials, pledge_replaces) for i, table in enumerate(raw)
    )


def _example(where: str, table: Any, materials: tuple[Material, ...], pledge_replaces: tuple[str, ...]) -> Example:
    if not isinstance(table, Mapping):
        raise CatalogueError(f"{where}: must be a table")
    _only(where, table, _KEYS)
    summary = table.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        raise CatalogueError(f"{where}, field 'summary': must be a non-empty string")
    applicant = table.get("applicant")
    if not isinstance(applicant, Mapping) or not all(
        isinstance(applicant.get(k), str) for k in ("kind", "id_number", "name")
    ):
        raise CatalogueError(f"{where}, field 'applicant': must be a table with kind, id_number and name")
    _only(f"{where}, field 'applicant'", applicant, _APPLICANT_KEYS)
    by_name = {m.name: m for m in materials}
    own = table.get("materials", {})
    omit = table.get("omit", [])
    if not isinstance(own, Mapping) or not isinstance(omit, list):
        raise CatalogueError(f"{where}, field 'materials': must be a table (and 'omit' a list of material names)")
    strangers = sorted(name for name in [*own, *omit] if name not in by_name)
    if strangers:
        raise CatalogueError(f"{where}, field 'materials': names no material of this item ({strangers[0]!r})")
    needed = sorted(name for name in omit if by_name[name].required and name not in pledge_replaces)
    if needed:
        raise CatalogueError(f"{where}, field 'omit': {needed[0]} is required")
    complete = {m.name: m.sample for m in materials if m.sample is not None and m.name not in omit}
    pledge = table.get("pledge")
    if pledge is not None:
        if not isinstance(pledge, Mapping) or not isinstance(pledge.get("replaces"), list):
            raise CatalogueError(f"{where}, field 'pledge': must be a table with a 'replaces' list")
        _only(f"{where}, field 'pledge'", pledge, _PLEDGE_KEYS)
        if not set(pledge["replaces"]) <= set(pledge_replaces):
            raise CatalogueError(f"{where}, field 'pledge': replaces materials not in pledge_replaces")
    return Example(summary.strip(), dict(applicant), {**complete, **own}, dict(pledge) if pledge is not None else None)


def _only(where: str, table: Mapping[str, Any], keys: frozenset[str]) -> None:
    unknown = sorted(set(table) - keys)
    if unknown:
        raise CatalogueError(f"{where}: {unknown[0]!r} is not a known field (known: {', '.join(sorted(keys))})")
