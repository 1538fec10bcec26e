"""A chain's service guide (服务指南): what the integrator reads before calling ``POST /v1/bundles``."""

from __future__ import annotations

from typing import Any

from gateway.bundles.chains import Chain, applicant_kinds, chain_items
from gateway.catalogue.items import Catalogue


def chain_path(code: str) -> str:
    """Where the gateway serves the guide of chain ``code``."""
    return f"/v1/catalog/chains/{code}"


def chain_summary(chain: Chain, catalogue: Catalogue) -> dict[str, Any]:
    """One chain as ``GET /v1/catalog`` lists it."""
    return {
        "code": chain.code,
        "name_zh": chain.name_zh,
        "name_en": chain.name_en,
        "items": chain.items(),
        "links": {"guide": chain_path(chain.code)},
    }


def chain_guide(chain: Chain, catalogue: Catalogue, *, max_attachment_bytes: int | None = None) -> dict[str, Any]:
    """The service guide of ``chain``: its steps in order, what the caller gives and what the chain feeds."""
    items = chain_items(chain, catalogue)
    steps = []
    for n, (step, item) in enumerate(zip(chain.steps, items, strict=True), start=1):
        fed = step.fed()
        steps.append(
            {
                "position": n,
                "item": item.code,
                "name_zh": item.name_zh,
                "name_en": item.name_en,
                "agency": item.agency,
                "time_limit_days": item.time_limit_days,
                "materials": [m.guide(max_attachment_bytes) for m in item.materials if m.name not in fed],
                "fed_by_chain": [
                    {
                        "material": i.material,
                        "from_step": i.from_step,
                        "from_item": chain.steps[i.from_step - 1].item,
                        "field": i.field,
                    }
                    for i in step.inputs
                ],
                "guide": f"/v1/catalog/{item.code}",
            }
        )
    channels = [c for c in items[0].channels if all(c in i.channels for i in items)]
    levels = [lv for lv in items[0].office_levels if all(lv in i.office_levels for i in items)]
    return {
        "code": chain.code,
        "name_zh": chain.name_zh,
        "name_en": chain.name_en,
        "description_zh": chain.description_zh,
        "description_en": chain.description_en,
        "applicant_kinds": applicant_kinds(items),
        "channels": channels,
        "office_levels": levels,
        "time_limit_days": sum(i.time_limit_days for i in items),
        "legal_basis": [basis for i in items for basis in i.legal_basis],
        "steps": steps,
        "how": "POST /v1/bundles with {chain, applicant, office, operator, channel, materials (shared by every step "
        "that has them), steps: {<item>: {materials}}}; every step's materials are checked before any step runs.",
        "links": {"self": chain_path(chain.code), "submit": "/v1/bundles"},
    }
