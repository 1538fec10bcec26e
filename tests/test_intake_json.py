"""Intake bodies are read as I-JSON: deep nesting, lone surrogates, duplicate member names and too
many members are 400 problem JSON naming the problem or the limit, and nothing is stored."""

from __future__ import annotations

import json

import pytest

from gateway.config import HttpLimits
from tests.helpers import PAYMENT_RECORD, WINDOW_KEY

HEADERS = {"Authorization": f"Bearer {WINDOW_KEY}", "Content-Type": "application/json"}
ENVELOPE = json.dumps(PAYMENT_RECORD, ensure_ascii=False)


def with_materials(inner: str) -> str:
    """The sample envelope with ``"extra": <inner>`` among its materials (raw JSON text)."""
    return ENVELOPE.replace('"period_end"', f'"extra": {inner}, "period_end"', 1)


async def post_raw(gw, text: str, **headers: str):
    response = await gw.client.post("/v1/requests", data=text.encode("utf-8"), headers={**HEADERS, **headers})
    return response.status, response.content_type, await response.json()


async def assert_nothing_stored(gw) -> None:
    assert await gw.gateway.store.list_requests() == []


@pytest.mark.parametrize(
    "text",
    [
        "[" * 10_000 + "]" * 10_000,
        '{"a":' * 10_000 + "1" + "}" * 10_000,
        with_materials("[" * 10_000 + "]" * 10_000),
        with_materials('{"a":' * 10_000 + "1" + "}" * 10_000),
        with_materials("[" * 40 + "]" * 40),  # deeper than 32, far from any recursion limit
    ],
    ids=["arrays", "objects", "arrays-in-materials", "objects-in-materials", "just-over-the-limit"],
)
async def test_deep_nesting_is_400_naming_the_depth_limit(gw, text: str) -> None:
    status, media_type, answer = await post_raw(gw, text, **{"Idempotency-Key": "deep-1"})
    assert status == 400 and media_type == "application/problem+json"
    assert answer["type"] == "/problems/malformed-request"
    assert answer["limit"] == "server.max_json_depth" and answer["limit_value"] == 32
    await assert_nothing_stored(gw)


@pytest.mark.parametrize(
    "text",
    [
        ENVELOPE.replace('"tax.payment-record"', '"tax.payment-record\\ud800"'),
        ENVELOPE.replace('"fz-window-01"', '"\\udfff"'),
        ENVELOPE.replace('"张伟"', '"张\\ud83d"'),
        with_materials('"\\ud800x"'),
        with_materials('{"\\udc00": 1}'),
        with_materials('["ok", ["\\ud800"]]'),
    ],
    ids=["item", "operator", "name", "material", "member-name", "nested"],
)
async def test_a_lone_surrogate_anywhere_is_400(gw, text: str) -> None:
    status, media_type, answer = await post_raw(gw, text)
    assert status == 400 and media_type == "application/problem+json"
    assert "surrogate" in answer["detail"]
    await assert_nothing_stored(gw)


async def test_a_proper_surrogate_pair_is_still_fine(gw) -> None:
    status, _, answer = await post_raw(gw, ENVELOPE.replace('"张伟"', '"张\\ud842\\udfb7"'))  # 张𠮷
    assert status == 201, answer


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ('{"item": "tax.credit-grade", ' + ENVELOPE[1:], "item"),
        (ENVELOPE.replace('"kind": "person"', '"kind": "person", "kind": "organisation"'), "kind"),
        (ENVELOPE.replace('"period_end"', '"period_start": "2020-01-01", "period_end"', 1), "period_start"),
    ],
    ids=["item", "applicant-kind", "material"],
)
async def test_a_duplicate_member_name_is_400_naming_the_member(gw, text: str, name: str) -> None:
    status, _, answer = await post_raw(gw, text)
    assert status == 400 and answer["type"] == "/problems/malformed-request"
    assert f"duplicate member name '{name}'" in answer["detail"]
    await assert_nothing_stored(gw)


async def test_the_member_and_depth_limits_follow_the_configuration(start_gateway) -> None:
    gw = await start_gateway(http=HttpLimits(max_json_depth=4, max_json_members=30))
    status, _, answer = await post_raw(gw, with_materials("{" + ", ".join(f'"k{i}": {i}' for i in range(30)) + "}"))
    assert status == 400 and answer["limit"] == "server.max_json_members" and answer["limit_value"] == 30
    status, _, answer = await post_raw(gw, with_materials("[[[1]]]"))
    assert status == 400 and answer["limit"] == "server.max_json_depth" and answer["limit_value"] == 4
    await assert_nothing_stored(gw)
    status, _, answer = await post_raw(gw, ENVELOPE)  # three levels, twelve members: within both
    assert status == 201, answer


@pytest.mark.parametrize(
    "number",
    ["1" * 5000, "1e999", "-1e999"],
    ids=["more-digits-than-python-converts", "beyond-a-double", "below-a-double"],
)
async def test_a_number_no_double_can_hold_is_400_not_500(gw, number: str) -> None:
    status, media_type, answer = await post_raw(gw, with_materials(number))
    assert status == 400 and media_type == "application/problem+json", answer
    assert answer["type"] == "/problems/malformed-request"
    await assert_nothing_stored(gw)
