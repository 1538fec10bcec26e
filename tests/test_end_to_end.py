"""Every catalogue item end to end: POST /v1/requests, the agency's sandbox, the seal the item needs.

The envelopes are built from the catalogue (each material's sample), so a
new item is covered the moment it is declared. Long-running items answer
202 and are polled through GET /v1/requests/{id} while the outbox workers
poll the agency.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter
from typing import Any

from gateway.agencies.plugin_manager import plugin_manager
from gateway.agencies.sandboxes import sandbox_specs
from gateway.catalogue.items import Item
from gateway.testing import envelope_for
from tests.helpers import TOWN

SEAL_MARK = {"service_centre": "370303-BM-", "delegated_approval": "370303-SP-"}
CONCURRENCY = 8
SETTLE_S = 20.0


def short_reviews(spec: Any) -> Any:
    """The registration centre decides in a fraction of a second (its sandbox option)."""
    return dataclasses.replace(spec, options={**spec.options, "decision_delay_s": 0.2})


async def final_view(gw: Any, envelope: dict[str, Any], limit: asyncio.Semaphore) -> dict[str, Any]:
    """Submit ``envelope`` and follow the request until it is completed, rejected or failed."""
    async with limit:
        response = await gw.post(envelope)
        body = await response.json()
        assert response.status in (201, 202), (envelope["item"], response.status, body)
        give_up = time.monotonic() + SETTLE_S
        while body["status"] in ("accepted", "pending", "deferred") and time.monotonic() < give_up:
            await asyncio.sleep(0.1)
            body = await (await gw.get(f"/v1/requests/{body['id']}")).json()
        return body


def check_sealed(item: Item, body: dict[str, Any]) -> None:
    assert body["status"] == "completed", (item.code, body.get("status"), body.get("error") or body.get("reasons"))
    assert body["item"] == item.code and body["office"] == TOWN
    document = body["result"]
    assert document["request_id"] == body["id"] and document["content"]
    number = document["seal"]["number"]
    assert number.startswith(SEAL_MARK[item.seal]), f"{item.code} needs a {item.seal} seal but got {number}"


async def test_every_catalogue_item_completes_with_its_seal_and_every_rejection_example_ends_rejected(
    start_gateway,
) -> None:
    gw = await start_gateway(sandbox_factories={"property": short_reviews})
    items = list(gw.gateway.registry.catalogue)
    per_agency = Counter(item.agency for item in items)
    assert len(items) >= 30 and set(per_agency) >= {"tax", "social_security", "medical", "housing_fund", "property"}
    assert all("town" in item.office_levels and "window" in item.channels for item in items)
    limit = asyncio.Semaphore(CONCURRENCY)
    rejections = [spec.rejection for spec in sandbox_specs(plugin_manager()) if spec.rejection]
    catalogue = gw.gateway.registry.catalogue

    started = time.monotonic()
    views = await asyncio.gather(
        *(final_view(gw, envelope_for(item), limit) for item in items),
        *(
            final_view(
                gw,
                envelope_for(
                    catalogue.get(example["item"]),
                    applicant=example["applicant"],
                    materials=example.get("materials"),
                ),
                limit,
            )
            for example in rejections
        ),
    )
    elapsed = time.monotonic() - started

    for item, body in zip(items, views[: len(items)], strict=True):
        check_sealed(item, body)
    long_running = [item.code for item in items if item.long_running]
    assert long_running and all(views[items.index(catalogue.get(code))]["agency_reference"] for code in long_running)
    assert len(rejections) == len(per_agency)
    for example, body in zip(rejections, views[len(items) :], strict=True):
        assert body["status"] == "rejected" and body["reasons"], (example["item"], body)
        assert "result" not in body  # nothing is sealed for a refusal
    assert elapsed < SETTLE_S, f"{len(views)} requests took {elapsed:.1f} s"
