"""Proxy handling (帮办代办): a helper's request carries the applicant's signed authorisation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.proxy.lifecycle import proxy_steps
from gateway.store import RequestRecord, RequestStatus
from signing.verify.verifier import verify_document
from tests.helpers import OTHER_PERSON, PAYMENT_RECORD, PERSON

HELPER_KEY = "sample-helper-tablet-key"
LATER = (datetime.now(UTC) + timedelta(days=30)).isoformat(timespec="seconds")
EARLIER = (datetime.now(UTC) - timedelta(minutes=1)).isoformat(timespec="seconds")
AUTHORISATION: dict[str, Any] = {
    "applicant_id": PERSON["id_number"],
    "proxy": {"name": OTHER_PERSON["name"], "id_number": OTHER_PERSON["id_number"]},
    "items": ["tax.payment-record", "tax.income-record"],
    "valid_until": LATER,
    "signature": {"kind": "paper_form", "form_number": "FZ-2026-000123"},
}
PROXIED = {**PAYMENT_RECORD, "channel": "helper", "operator": "fz-helper-07", "authorisation": AUTHORISATION}


def errors_of(body: dict[str, Any]) -> set[tuple[str, str]]:
    return {(e["path"], e["code"]) for e in body["errors"]}


async def test_a_helpers_request_without_the_applicants_authorisation_is_refused(gw) -> None:
    body = {k: v for k, v in PROXIED.items() if k != "authorisation"}
    answer = await gw.post(body, key=HELPER_KEY)
    assert answer.status == 422
    assert ("authorisation", "required") in errors_of(await answer.json())
    assert gw.sandboxes["tax"].ledger.stats()["effective_submissions"] == 0


async def test_an_expired_out_of_scope_unsigned_authorisation_of_someone_else_is_refused_with_every_problem(
    gw,
) -> None:
    wrong = {
        **AUTHORISATION,
        "applicant_id": "370303198503120027",
        "items": ["tax.income-record"],
        "valid_until": EARLIER,
        "signature": {"kind": "attachment", "media_type": "application/pdf", "content_base64": "not base64!"},
    }
    body = {**PROXIED, "authorisation": wrong, "materials": {"period_start": "2025-13-01", "period_end": "2025-12-31"}}
    answer = await gw.post(body, key=HELPER_KEY)
    assert answer.status == 422
    found = errors_of(await answer.json())
    assert {
        ("authorisation/applicant_id", "not_applicant"),
        ("authorisation/items", "out_of_scope"),
        ("authorisation/valid_until", "expired"),
        ("authorisation/signature", "unsigned"),
    } <= found
    assert any(path == "materials/period_start" for path, _ in found)  # with the materials' problems, at once
    assert gw.sandboxes["tax"].ledger.stats()["effective_submissions"] == 0


async def test_a_proxy_who_is_the_applicant_or_has_no_valid_id_is_refused(gw) -> None:
    for proxy, code in (
        ({"name": "张伟", "id_number": PERSON["id_number"]}, "is_applicant"),
        ({"name": "李娜", "id_number": "370303198503120028"}, "invalid_check_digit"),
    ):
        body = {**PROXIED, "authorisation": {**AUTHORISATION, "proxy": proxy}}
        answer = await gw.post(body, key=HELPER_KEY)
        assert answer.status == 422
        assert ("authorisation/proxy/id_number", code) in errors_of(await answer.json())


async def test_an_unsigned_authorisation_is_refused_whether_the_form_number_or_the_form_is_missing(gw) -> None:
    for signature in (None, {"kind": "paper_form"}, {"kind": "paper_form", "form_number": ""}, {"kind": "stamp"}):
        body = {**PROXIED, "authorisation": {**AUTHORISATION, "signature": signature}}
        answer = await gw.post(body, key=HELPER_KEY)
        assert answer.status == 422, signature
        assert ("authorisation/signature", "unsigned") in errors_of(await answer.json())


async def test_a_valid_authorisation_is_recorded_and_the_sealed_result_names_the_proxy(
    start_gateway, store_url
) -> None:
    gw = await start_gateway(store_url)
    signed_form = {"kind": "attachment", "media_type": "application/pdf", "content_base64": "JVBERi0xLjQKJSBzaWduZWQK"}
    body = {**PROXIED, "authorisation": {**AUTHORISATION, "signature": signed_form}}
    answer = await gw.post(body, key=HELPER_KEY)
    assert answer.status == 201, await answer.text()
    view = await answer.json()
    sealed = view["result"]
    assert sealed["proxy"]["name"] == OTHER_PERSON["name"]
    assert sealed["proxy"]["id_number"] == "3703**********0027"
    assert (
        sealed["proxy"]["authorisation"]["kind"] == "attachment"
        and len(sealed["proxy"]["authorisation"]["sha256"]) == 64
    )
    assert verify_document(sealed, gw.gateway.sealer.trust_view()).indication == "TOTAL_PASSED"
    record = await gw.gateway.store.get_request(view["id"])
    assert record is not None and record.envelope["authorisation"]["proxy"]["id_number"] == OTHER_PERSON["id_number"]
    assert record.envelope["authorisation"]["signature"]["content_base64"] == signed_form["content_base64"]
    steps = {s["step"]: s["state"] for s in view["proxy"]["steps"]}
    assert steps == {
        "consultation": "completed",
        "authorisation": "completed",
        "handling": "completed",
        "coordination": "completed",
        "feedback": "completed",
        "rating_archiving": "waiting",
    }
    rows = [r async for chunk in gw.gateway.audit.store.entries() for r in chunk]
    assert "proxy.authorised" in {r[3] for r in rows}
    text = b"".join(r[1] for r in rows).decode("utf-8")
    for personal in (OTHER_PERSON["id_number"], OTHER_PERSON["name"], PERSON["id_number"]):
        assert personal not in text


async def test_a_window_request_may_carry_an_authorisation_and_one_without_shows_no_proxy(gw) -> None:
    plain = await (await gw.post(PAYMENT_RECORD)).json()
    assert "proxy" not in plain and "proxy" not in plain["result"]
    proxied = await (await gw.post({**PAYMENT_RECORD, "authorisation": AUTHORISATION})).json()
    assert proxied["result"]["proxy"]["name"] == OTHER_PERSON["name"]


def record(status: RequestStatus, **changes: Any) -> RequestRecord:
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "id": "01J00000000000000000000000",
        "caller_id": "helper-tablet",
        "item": "tax.payment-record",
        "agency": "tax",
        "office": "370303105000",
        "operator": "fz-helper-07",
        "channel": "helper",
        "status": status,
        "envelope": {},
        "created_at": now,
        "updated_at": now,
    }
    return RequestRecord(**(values | changes))


def states(steps: list[dict[str, Any]]) -> list[str]:
    return [s["state"] for s in steps]


def test_the_six_steps_follow_the_requests_state() -> None:
    done = datetime.now(UTC)
    assert states(proxy_steps(record(RequestStatus.ACCEPTED))) == ["completed"] * 2 + ["in_progress"] + ["waiting"] * 3
    deferred = proxy_steps(record(RequestStatus.DEFERRED))
    assert deferred[2]["state"] == "in_progress" and "outbox" in deferred[2]["note"]
    pending = proxy_steps(record(RequestStatus.PENDING, agency_reference="SW-1"))
    assert states(pending) == ["completed"] * 3 + ["in_progress", "waiting", "waiting"]
    assert pending[2]["agency_reference"] == "SW-1"
    finished = record(RequestStatus.COMPLETED, finished_at=done)
    assert states(proxy_steps(finished)) == ["completed"] * 5 + ["waiting"]
    assert states(proxy_steps(finished, rated_at=done)) == ["completed"] * 6
    failed = proxy_steps(record(RequestStatus.DEAD_LETTER, finished_at=done, error={"code": "agency_unavailable"}))
    assert states(failed) == ["completed", "completed", "stopped", "stopped", "completed", "stopped"]


async def test_the_printout_of_a_proxy_handled_result_shows_the_proxy_and_verifies(gw) -> None:
    from signing.printout.layout import printed_values

    body = await (await gw.post({**PAYMENT_RECORD, "authorisation": AUTHORISATION})).json()
    assert ("受托代办人", "王秀英（3703**********0027）") in printed_values(body["result"])
    pdf = await gw.get(f"/v1/requests/{body['id']}/document.pdf")
    assert pdf.status == 200, await pdf.text()
    checked = await gw.client.post("/v1/verify", data=await pdf.read(), headers={"Content-Type": "application/pdf"})
    answer = await checked.json()
    assert answer["report"]["indication"] == "TOTAL_PASSED", answer["text"]  # the pages show every sealed fact
