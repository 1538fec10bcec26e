"""Chains (一链办理) as catalogue data: which items run in which order, and what feeds what.

A chain is declared in TOML, never in code (``chains.toml`` beside this
module, the district's): its steps name catalogue items, and each step's
``inputs`` say which of its materials come from an earlier step -- a field
of that step's sealed result, its agency reference, or one of its own
materials. Loading checks every name against the catalogue, so a typo
stops the start instead of failing a bundle half-way.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.catalogue.items import Catalogue, Item
from gateway.errors import CatalogueError

CHAINS_FILE = Path(__file__).with_name("chains.toml")
FIELD_SOURCES = ("content.", "materials.", "agency_reference")
_CHAIN_KEYS = {"code", "name_zh", "name_en", "description_zh", "description_en", "steps"}


@dataclass(frozen=True)
class Input:
    """Material ``material`` of a step is ``field`` of step ``from_step`` (1-based)."""

    material: str
    from_step: int
    field: str


@dataclass(frozen=True)
class ChainStep:
    """One step: a catalogue item and the materials earlier steps feed it."""

    item: str
    inputs: tuple[Input, ...] = ()

    def fed(self) -> frozenset[str]:
        """The materials of this step the chain fills in, never the caller."""
        return frozenset(i.material for i in self.inputs)


@dataclass(frozen=True)
class Chain:
    """A declared chain of items run in one flow."""

    code: str
    name_zh: str
    name_en: str
    description_zh: str
    description_en: str
    steps: tuple[ChainStep, ...]

    def items(self) -> list[str]:
        return [step.item for step in self.steps]


def _where(source: str, code: Any, key: str) -> str:
    return f"{source}: chain {code!r}, {key}"


def _step(source: str, code: str, n: int, raw: Any, catalogue: Catalogue) -> ChainStep:
    where = f"steps[{n}]"
    if not isinstance(raw, Mapping) or not isinstance(raw.get("item"), str) or set(raw) - {"item", "inputs"}:
        raise CatalogueError(_where(source, code, f"{where}: a step is {{item, inputs}}"))
    item = catalogue.get(raw["item"])
    assert item is not None  # only chains whose items are installed are loaded
    inputs = []
    for m, spec in enumerate(raw.get("inputs", [])):
        place = f"{where}.inputs[{m}]"
        if not isinstance(spec, Mapping) or set(spec) != {"material", "from_step", "field"}:
            raise CatalogueError(_where(source, code, f"{place}: an input is {{material, from_step, field}}"))
        material, origin, field = spec["material"], spec["from_step"], spec["field"]
        if not isinstance(material, str) or item.material(material) is None:
            raise CatalogueError(_where(source, code, f"{place}.material: {item.code} has no material {material!r}"))
        if not isinstance(origin, int) or isinstance(origin, bool) or not 1 <= origin < n:
            raise CatalogueError(_where(source, code, f"{place}.from_step: must be an earlier step (1..{n - 1})"))
        if not isinstance(field, str) or not (field == "agency_reference" or field.startswith(FIELD_SOURCES[:2])):
            raise CatalogueError(
                _where(source, code, f"{place}.field: 'content.<name>', 'materials.<name>' or 'agency_reference'")
            )
        inputs.append(Input(material, origin, field))
    if len({i.material for i in inputs}) != len(inputs):
        raise CatalogueError(_where(source, code, f"{where}.inputs: a material is fed twice"))
    return ChainStep(item.code, tuple(inputs))


def parse_chains(data: Mapping[str, Any], catalogue: Catalogue, *, source: str) -> tuple[list[Chain], list[str]]:
    """The chains of ``data`` whose items are all installed, and the codes of those left out (and why)."""
    if set(data) - {"chains"}:
        raise CatalogueError(f"{source}: only [[chains]] may be declared")
    chains: list[Chain] = []
    left_out: list[str] = []
    for raw in data.get("chains", []):
        code = raw.get("code") if isinstance(raw, Mapping) else None
        if not isinstance(raw, Mapping) or not isinstance(code, str) or set(raw) - _CHAIN_KEYS:
            raise CatalogueError(_where(source, code, f"keys: {sorted(_CHAIN_KEYS)}"))
        for key in ("name_zh", "name_en", "description_zh", "description_en"):
            if not isinstance(raw.get(key), str) or not raw[key].strip():
                raise CatalogueError(_where(source, code, f"{key}: required text"))
        steps = raw.get("steps")
        if not isinstance(steps, list) or len(steps) < 2:
            raise CatalogueError(_where(source, code, "steps: a chain has two steps or more"))
        missing = [s.get("item") for s in steps if isinstance(s, Mapping) and catalogue.get(str(s.get("item"))) is None]
        if missing:
            left_out.append(f"{code} (items not installed: {', '.join(map(str, missing))})")
            continue
        parsed = tuple(_step(source, code, n, step, catalogue) for n, step in enumerate(steps, start=1))
        for n, step in enumerate(parsed, start=1):
            for feed in step.inputs:
                earlier = catalogue.get(parsed[feed.from_step - 1].item)
                name = feed.field.removeprefix("materials.")
                if feed.field.startswith("materials.") and earlier is not None and earlier.material(name) is None:
                    raise CatalogueError(
                        _where(source, code, f"steps[{n}]: {earlier.code} has no material {name!r} to feed from")
                    )
        if len(set(chain_items := [s.item for s in parsed])) != len(chain_items):
            raise CatalogueError(_where(source, code, "steps: an item appears twice"))
        if any(c.code == code for c in chains):
            raise CatalogueError(_where(source, code, "code: declared twice"))
        chains.append(Chain(code, raw["name_zh"], raw["name_en"], raw["description_zh"], raw["description_en"], parsed))
    return chains, left_out


def load_chains(catalogue: Catalogue, path: Path = CHAINS_FILE) -> tuple[dict[str, Chain], list[str]]:
    """The district's chains by code, and those left out because their items are not installed."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CatalogueError(f"{path}: {exc}") from None
    chains, left_out = parse_chains(data, catalogue, source=str(path))
    return {c.code: c for c in chains}, left_out


def chain_items(chain: Chain, catalogue: Catalogue) -> list[Item]:
    """The catalogue items of ``chain``'s steps, in order."""
    items = [catalogue.get(code) for code in chain.items()]
    assert all(items)
    return [i for i in items if i is not None]


def applicant_kinds(items: Iterable[Item]) -> list[str]:
    """The applicant kinds every step accepts (a chain runs for one applicant)."""
    kinds: list[str] | None = None
    for item in items:
        kinds = [k for k in (kinds if kinds is not None else item.applicant_kinds) if k in item.applicant_kinds]
    return kinds or []
