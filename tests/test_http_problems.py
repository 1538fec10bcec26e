"""Every answer is problem JSON -- aiohttp's own parse errors too -- and every limit names itself;
echoed input is cut short and masked."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import web

from gateway.api.guard import MAX_HEADER_FIELD_BYTES, MAX_HEADERS, MAX_REQUEST_LINE_BYTES, make_runner
from gateway.config import HttpLimits
from tests.guarded import parse_answer, problem, served
from tests.helpers import PAYMENT_RECORD, PERSON, WINDOW_KEY

LONG_ID = "370303199001011239"


@pytest.mark.parametrize(
    ("raw", "status", "slug", "limit", "value"),
    [
        (
            b"GET /" + b"a" * (MAX_REQUEST_LINE_BYTES + 10) + b" HTTP/1.1\r\nHost: g\r\n\r\n",
            414,
            "uri-too-long",
            "request_line_bytes",
            MAX_REQUEST_LINE_BYTES,
        ),
        (
            b"GET /healthz HTTP/1.1\r\nHost: g\r\nX-Big: " + b"b" * (MAX_HEADER_FIELD_BYTES + 10) + b"\r\n\r\n",
            431,
            "request-header-fields-too-large",
            "header_field_bytes",
            MAX_HEADER_FIELD_BYTES,
        ),
        (
            b"GET /healthz HTTP/1.1\r\nHost: g\r\n"
            + b"".join(b"X-H%d: v\r\n" % i for i in range(MAX_HEADERS + 5))
            + b"\r\n",
            431,
            "request-header-fields-too-large",
            "header_fields",
            MAX_HEADERS,
        ),
    ],
    ids=["request-line", "header-field", "header-count"],
)
async def test_an_oversize_head_is_problem_json_naming_the_limit(
    start_gateway, raw: bytes, status: int, slug: str, limit: str, value: int
) -> None:
    rg = await start_gateway()
    async with served(rg.gateway) as gw:
        answer = problem(await gw.exchange(raw))
    assert answer["status"] == status and answer["type"] == f"/problems/{slug}"
    assert answer["limit"] == limit and answer["limit_value"] == value
    assert answer["request_id"] and answer["title_zh"] and answer["detail_zh"]


@pytest.mark.parametrize(
    "raw",
    [
        b"BREW /healthz HTCPCP/1.0\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: g\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    ],
    ids=["bad-request-line", "two-content-lengths", "tls-on-http"],
)
async def test_an_unreadable_request_line_is_400_problem_json(start_gateway, raw: bytes) -> None:
    rg = await start_gateway()
    async with served(rg.gateway) as gw:
        answer = problem(await gw.exchange(raw))
    assert answer["status"] == 400 and answer["type"] == "/problems/malformed-request"


async def test_echoed_parse_errors_are_cut_short_and_masked(start_gateway) -> None:
    rg = await start_gateway()
    async with served(rg.gateway) as gw:
        raw = f"GET /{LONG_ID} HTTP/1.1\r\nHost: g\r\nBad Header {LONG_ID}{'z' * 300}: v\r\n\r\n".encode()
        status, headers, body = await gw.exchange(raw)
    text = body.decode()
    assert status == 400 and headers["content-type"].startswith("application/problem+json")
    assert LONG_ID not in text and "z" * 200 not in text


async def test_an_over_long_name_says_too_long_and_names_the_limit(gw) -> None:
    envelope = {**PAYMENT_RECORD, "applicant": {**PERSON, "name": "张" * 101}, "operator": "o" * 65}
    answer = await (await gw.post(envelope)).json()
    found = {(e["path"], e["code"]): e for e in answer["errors"]}
    assert ("applicant/name", "too_long") in found and "100" in found[("applicant/name", "too_long")]["message_en"]
    assert ("operator", "too_long") in found and "64" in found[("operator", "too_long")]["message_en"]


async def test_a_body_over_the_size_limit_names_the_limit(gw) -> None:
    limit = gw.gateway.settings.max_body_bytes
    response = await gw.client.post(
        "/v1/requests",
        data=b"{" + b" " * limit + b"}",
        headers={"Authorization": f"Bearer {WINDOW_KEY}", "Content-Type": "application/json"},
    )
    answer = await response.json()
    assert response.status == 413 and answer["limit"] == "server.max_body_bytes" and answer["limit_value"] == limit


async def test_echoed_input_in_answers_is_cut_short_and_masked(gw) -> None:
    unknown_item = await (await gw.post({**PAYMENT_RECORD, "item": "tax." + LONG_ID + "x" * 5000})).json()
    unknown_field = await (await gw.post({**PAYMENT_RECORD, LONG_ID + "y" * 5000: 1, "call 13805330123": 2})).json()
    unknown_material = await (
        await gw.post({**PAYMENT_RECORD, "materials": {**PAYMENT_RECORD["materials"], "m" * 5000: 1}})
    ).json()
    missing = await gw.get("/v1/requests/" + LONG_ID + "q" * 3000)
    for answer in (unknown_item, unknown_field, unknown_material, await missing.json()):
        text = json.dumps(answer, ensure_ascii=False)
        assert LONG_ID not in text and "13805330123" not in text, text[:300]
        assert len(text) < 2500, len(text)
    assert unknown_item["status"] == 404 and unknown_field["status"] == 422 and missing.status == 404


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GET /v1/requests/01M8G4SDVRC5CZWFY161WBZNNC HTTP/1.1\r\nHost: g\r\nAuthorization: Bearer \xff\xfe\r\n", 401),
        (b"GET /v1/requests/01M8G4SDVRC5CZWFY161WBZNNC HTTP/1.1\r\nHost: g\r\nX-Api-Key: \xe4\xb8\xad\r\n", 401),
        (b"GET /v1/requests/%ff%fe HTTP/1.1\r\nHost: g\r\nAuthorization: Bearer " + WINDOW_KEY.encode() + b"\r\n", 404),
        (b"GET /v1/catalog?%ff=1 HTTP/1.1\r\nHost: g\r\n", 400),
        (b"GET /v1/cat%ffalog HTTP/1.1\r\nHost: g\r\n", 404),
    ],
    ids=["bearer-not-utf8", "api-key-not-ascii", "path-not-utf8", "query-not-utf8", "route-not-utf8"],
)
async def test_bytes_that_are_not_utf8_in_a_head_are_a_4xx_problem_not_a_500(
    start_gateway, raw: bytes, status: int
) -> None:
    rg = await start_gateway()
    async with served(rg.gateway) as gw:
        answer = problem(await gw.exchange(raw + b"Connection: close\r\n\r\n"))
    assert answer["status"] == status, answer


async def test_a_refusal_quotes_the_office_and_channel_it_was_sent_cut_short(gw) -> None:
    response = await gw.post({**PAYMENT_RECORD, "office": LONG_ID * 300, "channel": "c" * 5000})
    answer = await response.json()
    assert response.status == 403 and LONG_ID not in answer["detail"] and len(answer["detail"]) < 600


async def test_an_exception_no_middleware_caught_is_a_500_problem_without_a_traceback() -> None:
    """The guarded runner's last line: whatever escapes the application is still problem JSON."""

    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("secret internals 370303199001011239")

    app = web.Application()
    app.router.add_get("/broken", broken)
    runner = make_runner(app, HttpLimits(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", runner.addresses[0][1])
        writer.write(b"GET /broken HTTP/1.1\r\nHost: g\r\nAccept: text/html\r\n\r\n")
        answer = problem(parse_answer(await reader.read()))
        writer.close()
    finally:
        await runner.cleanup()
    assert answer["status"] == 500 and answer["type"] == "/problems/internal-error"
    assert "secret internals" not in json.dumps(answer) and "Traceback" not in json.dumps(answer)
