"""The catalogue and health routes."""

from __future__ import annotations


async def test_the_catalogue_lists_and_filters_items(gw) -> None:
    everything = await (await gw.client.get("/v1/catalog")).json()
    assert everything["count"] == len(everything["items"]) >= 7
    outlet = await (await gw.client.get("/v1/catalog?channel=partner_outlet&agency=tax")).json()
    assert outlet["items"] and all("partner_outlet" in i["channels"] and i["agency"] == "tax" for i in outlet["items"])


async def test_a_bad_filter_is_a_400_problem(gw) -> None:
    response = await gw.client.get("/v1/catalog?channel=carrier_pigeon")
    assert response.status == 400 and response.content_type == "application/problem+json"
    assert (await gw.client.get("/v1/catalog?colour=red")).status == 400


async def test_an_items_service_guide_has_everything_the_window_needs(gw) -> None:
    guide = await (await gw.client.get("/v1/catalog/tax.clearance-certificate")).json()
    for key in (
        "name_zh",
        "legal_basis",
        "time_limit_days",
        "steps",
        "materials",
        "conditions_zh",
        "pledge_replaces",
        "seal",
        "office_levels",
        "channels",
    ):
        assert guide[key] not in (None, ""), key
    assert guide["seal"] == "delegated_approval"
    assert {m["name"] for m in guide["materials"]} >= {"reason", "invoice_cancellation_proof"}
    missing = await gw.client.get("/v1/catalog/tax.nothing")
    assert missing.status == 404


async def test_healthz_and_readyz(gw) -> None:
    assert (await (await gw.client.get("/healthz")).json()) == {"status": "ok"}
    ready = await (await gw.client.get("/readyz")).json()
    assert ready["ready"] is True and ready["store"]["ok"] is True and ready["store"]["schema_version"] >= 2
    assert ready["agencies"]["tax"]["ok"] is True and ready["agencies"]["tax"]["breaker"] == "closed"


async def test_readyz_reports_a_down_agency_without_becoming_unready(gw) -> None:
    gw.sandboxes["tax"].knobs.update({"maintenance": True})
    ready = await (await gw.client.get("/readyz")).json()
    assert ready["ready"] is True and ready["agencies"]["tax"]["ok"] is False


async def test_readyz_is_503_when_the_store_is_gone(gw) -> None:
    await gw.gateway.store.close()
    response = await gw.client.get("/readyz")
    assert response.status == 503
    assert (await response.json())["store"]["ok"] is False
