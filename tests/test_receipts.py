"""The sealed acceptance receipt (受理回执): with every 202, a new version once the agency's case number is known.

Real sandboxes (the registration centre decides after a delay, and is taken
down for maintenance to defer a request), the district's real seals, and the
``onewindow verify`` command on the receipt as an applicant would save it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

from gateway.service.receipts import RECEIPT_TYPE
from gateway.store import utcnow
from gateway.testing import envelope_for
from signing import TrustBundle, verify_document
from signing.audit.entry import document_digest
from signing.pki.certificates import fingerprint
from tests.helpers import PAYMENT_RECORD
from tests.procs import run_cli


def slow_reviews(spec: Any) -> Any:
    return dataclasses.replace(spec, options={**spec.options, "decision_delay_s": 30.0})


def change_registration(gw: Any) -> dict[str, Any]:
    return envelope_for(gw.gateway.registry.catalogue.get("property.change-registration"))


async def trust(gw: Any) -> TrustBundle:
    bundle = await (await gw.client.get("/v1/trust-bundle")).json()
    return TrustBundle.from_dict(bundle, root_fingerprint=fingerprint(gw.gateway.sealer.registry.root_certificate))


async def until(gw: Any, request_id: str, check: Any) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for _ in range(200):
        body = await (await gw.get(f"/v1/requests/{request_id}")).json()
        if check(body):
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"{request_id}: {body}")


async def test_a_pending_request_answers_with_a_sealed_receipt_that_onewindow_verify_passes(
    start_gateway, store_url, tmp_path: Path
) -> None:
    gw = await start_gateway(store_url, sandbox_factories={"property": slow_reviews})
    envelope = change_registration(gw)
    response = await gw.post(envelope)
    body = await response.json()
    assert response.status == 202 and body["status"] == "pending", body
    receipt = body["receipt"]
    assert receipt["document_type"] == RECEIPT_TYPE and receipt["request_id"] == body["id"]
    assert receipt["applicant"]["name"] == envelope["applicant"]["name"]  # the applicant's own document
    assert receipt["office"]["code"] == body["office"] and receipt["content"]["operator"] == envelope["operator"]
    assert receipt["content"]["due_on"] == body["due_on"] and receipt["content"]["time_limit_days"] == 3
    assert receipt["content"]["case_number"] == body["agency_reference"] == receipt["agency_reference"]
    assert receipt["content"]["status_url"].endswith(f"/v1/requests/{body['id']}")
    assert receipt["content"]["version"] == 1 and body["links"]["receipt"] == f"/v1/requests/{body['id']}/receipt"
    assert verify_document(receipt, await trust(gw)).passed

    fetched = await gw.get(body["links"]["receipt"])
    assert fetched.status == 200 and await fetched.json() == receipt  # the same version, not sealed again
    rows = [r async for chunk in gw.gateway.audit.store.entries() for r in chunk]
    issued = [json.loads(r[1])["fields"] for r in rows if r[3] == "receipt.issued"]
    assert [f["document_digest"] for f in issued] == [document_digest(receipt)]  # what the receipt's seal signed

    bundle = await (await gw.client.get("/v1/trust-bundle")).json()
    (tmp_path / "receipt.json").write_text(json.dumps(receipt, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "bundle.json").write_text(json.dumps(bundle, ensure_ascii=False), encoding="utf-8")
    root = fingerprint(gw.gateway.sealer.registry.root_certificate)
    args = ("verify", str(tmp_path / "receipt.json"), "--trust", str(tmp_path / "bundle.json"))
    code, out, err = await run_cli(*args, "--root-fingerprint", root, "--json")
    assert code == 0, err
    assert json.loads(out)["indication"] == "TOTAL_PASSED"
    tampered = {**receipt, "content": {**receipt["content"], "due_on": "2099-01-01"}}
    (tmp_path / "receipt.json").write_text(json.dumps(tampered, ensure_ascii=False), encoding="utf-8")
    code, out, _ = await run_cli(*args, "--root-fingerprint", root, "--json")
    assert code != 0 and json.loads(out)["indication"] != "TOTAL_PASSED"


async def test_a_deferred_request_gets_a_new_receipt_version_once_the_agency_gives_its_case_number(
    start_gateway, store_url
) -> None:
    gw = await start_gateway(
        store_url,
        sandbox_factories={"property": slow_reviews},
        agency_changes={"property": {"max_attempts": 1, "breaker_failures": 100}},
    )
    centre = gw.sandboxes["property"]
    centre.knobs.update({"maintenance": True})
    response = await gw.post(change_registration(gw))
    body = await response.json()
    assert response.status == 202 and body["status"] == "deferred", body
    first = body["receipt"]
    assert first["content"]["version"] == 1 and first["content"]["case_number"] is None
    assert first["agency_reference"] is None and first["content"]["due_on"] == body["due_on"]
    centre.knobs.update({"maintenance": False})
    (row,) = await gw.gateway.store.list_outbox(request_id=body["id"])  # the centre asked for 120 s: due now
    await gw.gateway.store.schedule(body["id"], "submit", due_at=utcnow(), expires_at=row.expires_at, attempts=1)
    pending = await until(gw, body["id"], lambda b: b["status"] == "pending")
    latest = await (await gw.get(f"/v1/requests/{body['id']}/receipt")).json()
    assert latest["content"]["version"] == 2 and latest["content"]["case_number"] == pending["agency_reference"]
    assert latest["content"]["due_on"] == first["content"]["due_on"]  # the promise does not move
    assert verify_document(latest, await trust(gw)).passed
    again = await (await gw.get(f"/v1/requests/{body['id']}/receipt?version=1")).json()
    assert again == first
    assert len(await gw.gateway.store.receipts(body["id"])) == 2  # asking again seals nothing new


async def test_a_request_decided_at_once_has_no_receipt(gw) -> None:
    body = await (await gw.post(PAYMENT_RECORD)).json()
    assert body["status"] == "completed" and "receipt" not in body
    response = await gw.get(f"/v1/requests/{body['id']}/receipt")
    problem = await response.json()
    assert response.status == 409 and problem["type"].endswith("/no-receipt")
    bad = await gw.get(f"/v1/requests/{body['id']}/receipt?version=x")
    assert bad.status == 400


async def test_the_receipt_prints_as_a_signed_pdf_that_verifies(start_gateway) -> None:
    gw = await start_gateway(sandbox_factories={"property": slow_reviews})
    body = await (await gw.post(change_registration(gw))).json()
    response = await gw.get(f"/v1/requests/{body['id']}/receipt.pdf")
    assert response.status == 200, await response.text()
    assert response.content_type == "application/pdf" and response.headers["Cache-Control"] == "no-store"
    assert "receipt-v1" in response.headers["Content-Disposition"]
    pdf = await response.read()
    verdict = await gw.client.post("/v1/verify", data=pdf, headers={"Content-Type": "application/pdf"})
    report = await verdict.json()
    assert verdict.status == 200 and report["report"]["indication"] == "TOTAL_PASSED", report
    from signing.printout.reading import read_printout

    text = "".join(read_printout(pdf).page_texts or ())
    assert "受理回执" in text and (body["due_on"] or "—") in text and body["agency_reference"] in text


async def test_purging_a_finished_request_removes_its_receipts(store) -> None:
    from tests.test_store import record

    rec = record(status=__import__("gateway.store", fromlist=["RequestStatus"]).RequestStatus.COMPLETED)
    rec.finished_at = utcnow()
    await store.insert_request(rec)
    assert await store.add_receipt(rec.id, 1, {"applicant": {"name": "张伟"}}, now=utcnow())
    assert not await store.add_receipt(rec.id, 1, {"other": True}, now=utcnow())  # a version is sealed once
    assert await store.receipts(rec.id) == [{"applicant": {"name": "张伟"}}]
    assert await store.purge_finished(utcnow(), now=utcnow(), limit=10) == [rec.id]
    assert await store.receipts(rec.id) == []


async def test_a_case_number_first_given_on_a_poll_is_shown_sealed_in_a_new_version_and_kept_when_final(
    start_gateway, store_url, tmp_path: Path
) -> None:
    from gateway.contract import Completed, Pending
    from tests.scripted_agency import ENVELOPE, ScriptedAgency, ScriptedPlugin

    agency = ScriptedAgency(tmp_path)
    decide = asyncio.Event()

    async def submit(request: Any, call: Any) -> Any:
        return Pending(ticket="T-1", poll_after=0.05, message="已收件")

    async def poll(ticket: str, call: Any) -> Any:
        if decide.is_set():
            return Completed({"answer": "ok"})  # the decision names no case number of its own
        return Pending(ticket=ticket, poll_after=0.05, message="审核中", reference="CASE-9")

    agency.on_submit, agency.on_poll = submit, poll
    gw = await start_gateway(store_url, plugins=(ScriptedPlugin(agency),))
    body = await (await gw.post(ENVELOPE)).json()
    assert body["status"] == "pending" and body["agency_message"] == "已收件" and "agency_reference" not in body
    assert body["receipt"]["content"]["case_number"] is None
    pending = await until(gw, body["id"], lambda b: b.get("agency_reference") == "CASE-9")
    assert pending["status"] == "pending" and pending["agency_message"] == "审核中"
    for _ in range(100):
        versions = await gw.gateway.store.receipts(body["id"])
        if len(versions) == 2:
            break
        await asyncio.sleep(0.05)
    assert [v["content"]["case_number"] for v in versions] == [None, "CASE-9"]
    assert verify_document(versions[1], await trust(gw)).passed
    decide.set()
    final = await until(gw, body["id"], lambda b: b["status"] == "completed")
    assert final["agency_reference"] == "CASE-9" and "agency_message" not in final
    assert final["result"]["agency_reference"] is None  # the sealed result shows what the decision said
    latest = await (await gw.get(f"/v1/requests/{body['id']}/receipt")).json()
    assert latest == versions[1] and len(await gw.gateway.store.receipts(body["id"])) == 2
