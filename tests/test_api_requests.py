"""The intake endpoint over real HTTP: every answer the foundation promises."""

from __future__ import annotations

import json

import pytest

from tests.helpers import ORGANISATION, PERSON, TOWN

PAYMENT_RECORD = {
    "item": "tax.payment-record",
    "applicant": PERSON,
    "materials": {"period_start": "2025-01-01", "period_end": "2025-12-31"},
    "office": TOWN,
    "operator": "fz-window-01",
    "channel": "window",
}


def problem_of(body: dict, status: int, slug: str) -> None:
    assert body["status"] == status
    assert body["type"] == f"/problems/{slug}"
    assert body["title"] and body["title_zh"] and body["detail"] and body["detail_zh"]
    assert body["request_id"]


async def test_a_payment_record_completes_with_a_sealed_result(gw) -> None:
    response = await gw.post(PAYMENT_RECORD)
    assert response.status == 201, await response.text()
    body = await response.json()
    assert body["status"] == "completed" and body["item"] == "tax.payment-record"
    assert response.headers["Location"] == f"/v1/requests/{body['id']}"
    document = body["result"]
    assert document["request_id"] == body["id"]
    assert document["content"]["records"]
    assert document["seal"]["number"].startswith("370303-")
    fetched = await gw.get(f"/v1/requests/{body['id']}")
    assert (await fetched.json())["result"] == document


async def test_malformed_json_is_400(gw) -> None:
    response = await gw.client.post(
        "/v1/requests",
        data=b'{"item": ',
        headers={"Authorization": "Bearer sample-fangzhen-window-key", "Content-Type": "application/json"},
    )
    assert response.status == 400
    assert response.content_type == "application/problem+json"
    problem_of(await response.json(), 400, "malformed-request")


async def test_an_unknown_item_is_404(gw) -> None:
    response = await gw.post({**PAYMENT_RECORD, "item": "tax.no-such-thing"})
    assert response.status == 404
    problem_of(await response.json(), 404, "unknown-item")


async def test_a_body_over_the_limit_is_413_without_reading_it_all(gw) -> None:
    limit = gw.gateway.settings.max_body_bytes
    big = json.dumps({**PAYMENT_RECORD, "padding": "x" * (limit + 10)}).encode()
    response = await gw.client.post(
        "/v1/requests",
        data=big,
        headers={"Authorization": "Bearer sample-fangzhen-window-key", "Content-Type": "application/json"},
    )
    assert response.status == 413
    problem_of(await response.json(), 413, "payload-too-large")


async def test_a_chunked_body_over_the_limit_is_413(gw) -> None:
    limit = gw.gateway.settings.max_body_bytes

    async def chunks():
        for _ in range(limit // 65536 + 4):
            yield b"x" * 65536

    response = await gw.client.post(
        "/v1/requests",
        data=chunks(),
        headers={"Authorization": "Bearer sample-fangzhen-window-key", "Content-Type": "application/json"},
    )
    assert response.status == 413


async def test_every_missing_or_invalid_material_is_listed_at_once(gw) -> None:
    body = {
        "item": "tax.individual-invoice",
        "applicant": {"kind": "person", "id_number": "370303199001011238", "name": "张伟"},
        "materials": {
            "buyer_name": "A",
            "buyer_credit_code": "91370303MA3C4XY85M",
            "amount": 900000,
            "contract": {"media_type": "text/plain", "content_base64": "!!!"},
            "colour": "red",
        },
        "office": TOWN,
        "operator": "fz-window-01",
        "channel": "window",
    }
    response = await gw.post(body)
    assert response.status == 422
    problem = await response.json()
    problem_of(problem, 422, "validation-failed")
    found = {(e["path"], e["code"]) for e in problem["errors"]}
    assert found >= {
        ("applicant/id_number", "invalid_check_digit"),
        ("materials/buyer_name", "too_short"),
        ("materials/buyer_credit_code", "invalid_check_digit"),
        ("materials/goods_description", "required"),
        ("materials/amount", "maximum"),
        ("materials/contract/media_type", "media_type"),
        ("materials/contract/content_base64", "base64"),
        ("materials/colour", "unknown_material"),
    }
    assert all(e["message_zh"] and e["message_en"] for e in problem["errors"])


async def test_a_pledge_replaces_a_named_material(gw) -> None:
    materials = {
        "contract_number": "ZD-2025-001234",
        "transaction_price": 860000,
        "floor_area": 96.5,
        "first_home": True,
    }
    without = await gw.post({**PAYMENT_RECORD, "item": "tax.deed-tax-filing", "materials": materials})
    assert without.status == 422
    (error,) = (await without.json())["errors"]
    assert error["path"] == "materials/household_proof" and "告知承诺" in error["message_zh"]
    pledge = {
        "replaces": ["household_proof"],
        "statement": "本人承诺家庭住房情况属实",
        "signed_by": "张伟",
        "signed_at": "2026-11-28T09:30:00+08:00",
    }
    with_pledge = await gw.post(
        {**PAYMENT_RECORD, "item": "tax.deed-tax-filing", "materials": materials, "pledge": pledge}
    )
    assert with_pledge.status == 201, await with_pledge.text()


async def test_a_bad_or_missing_key_is_401(gw) -> None:
    response = await gw.post(PAYMENT_RECORD, key="not-a-key")
    assert response.status == 401
    problem_of(await response.json(), 401, "unauthenticated")
    anonymous = await gw.client.post("/v1/requests", json=PAYMENT_RECORD)
    assert anonymous.status == 401 and "Bearer" in anonymous.headers["WWW-Authenticate"]


async def test_a_partner_outlet_may_not_request_an_approval_item(gw) -> None:
    body = {
        **PAYMENT_RECORD,
        "item": "tax.clearance-certificate",
        "applicant": ORGANISATION,
        "materials": {"reason": "注销登记", "contact_phone": "13805330123"},
        "channel": "partner_outlet",
    }
    response = await gw.post(body, key="sample-bank-outlet-key")
    assert response.status == 403
    problem = await response.json()
    problem_of(problem, 403, "forbidden")
    assert "tax.clearance-certificate" in problem["detail"]


async def test_a_village_station_may_not_accept_a_town_only_item(gw) -> None:
    body = {
        **PAYMENT_RECORD,
        "item": "tax.credit-grade",
        "applicant": ORGANISATION,
        "materials": {"year": 2025},
        "office": "370303105201",
        "channel": "village_station",
    }
    response = await gw.post(body, key="sample-dongcun-station-key")
    assert response.status == 403
    assert "village_station" in (await response.json())["detail"]


async def test_a_caller_cannot_act_for_another_office(gw) -> None:
    response = await gw.post({**PAYMENT_RECORD, "office": "370303007000"})
    assert response.status == 403


async def test_an_agency_rejection_is_a_finished_request_with_reasons(gw) -> None:
    body = {
        **PAYMENT_RECORD,
        "item": "tax.clearance-certificate",
        "applicant": {"kind": "organisation", "id_number": "91370303MA3NQ2LU8C", "name": "淄博马尚众诚机械加工厂"},
        "materials": {
            "reason": "注销登记",
            "contact_phone": "13805330123",
            "invoice_cancellation_proof": {"media_type": "application/pdf", "content_base64": "JVBERi0xLjQK"},
        },
    }
    response = await gw.post(body)
    assert response.status == 201
    result = await response.json()
    assert result["status"] == "rejected" and result["reasons"][0]["code"] == "tax.2002"
    assert "result" not in result


async def test_a_request_is_invisible_to_another_office(gw) -> None:
    created = await (await gw.post(PAYMENT_RECORD)).json()
    other_office = await gw.get(f"/v1/requests/{created['id']}", key="sample-mashang-window-key")
    assert other_office.status == 404
    junk = await gw.get("/v1/requests/not-an-id")
    assert junk.status == 404


@pytest.mark.parametrize("path", ["/nope", "/v1/requests/x/y"])
async def test_unknown_routes_are_problems(gw, path: str) -> None:
    response = await gw.client.get(path)
    assert response.status == 404 and response.content_type == "application/problem+json"


async def test_a_wrong_method_is_405_with_allow(gw) -> None:
    response = await gw.client.delete("/v1/catalog")
    assert response.status == 405
    assert "GET" in response.headers["Allow"]


async def test_every_response_carries_a_request_id(gw) -> None:
    response = await gw.client.get("/healthz")
    assert len(response.headers["X-Request-Id"]) == 26
