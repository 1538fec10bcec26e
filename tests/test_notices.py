"""The one-time notice (一次性告知书): a refused envelope's every problem beside the item's requirements, sealed."""

from __future__ import annotations

import json
from typing import Any

from gateway.service.notices import NOTICE_TYPE
from signing import TrustBundle, verify_document
from signing.audit.entry import document_digest
from signing.pki.certificates import fingerprint
from tests.helpers import PAYMENT_RECORD, PERSON

#: Refused at intake: a wrong check digit in the ID number, a missing period end, a month 13.
REFUSED = {
    **PAYMENT_RECORD,
    "applicant": {**PERSON, "id_number": PERSON["id_number"][:-1] + ("0" if PERSON["id_number"][-1] != "0" else "1")},
    "materials": {"period_start": "2025-13-01"},
}


async def notice_of(gw: Any, body: dict[str, Any], **headers: str) -> Any:
    return await gw.client.post(
        "/v1/notices", json=body, headers={"Authorization": "Bearer sample-fangzhen-window-key", **headers}
    )


async def test_a_refused_envelope_gets_a_sealed_notice_listing_every_problem_with_its_requirement(gw, capsys) -> None:
    refused = await gw.post(REFUSED)
    errors = (await refused.json())["errors"]
    assert refused.status == 422 and len(errors) >= 3
    response = await notice_of(gw, REFUSED)
    notice = await response.json()
    assert response.status == 201, notice
    assert notice["document_type"] == NOTICE_TYPE and notice["item"] == "tax.payment-record"
    listed = [(p["path"], p["code"]) for p in notice["content"]["problems"]]
    assert listed == [(e["path"], e["code"]) for e in errors]  # the same list intake gave, all at once
    item = gw.gateway.registry.catalogue.get("tax.payment-record")
    by_path = {p["path"]: p for p in notice["content"]["problems"]}
    start = by_path["materials/period_start"]
    assert start["material"] == item.material("period_start").description_zh
    assert "YYYY-MM-DD" in start["requirement_zh"] and start["requirement_zh"].startswith("必需")
    assert by_path["applicant/id_number"]["material"] == "申请人信息"
    assert [r["name"] for r in notice["content"]["requirements"]] == [m.name for m in item.materials]
    assert notice["applicant"]["name"] == PERSON["name"]  # the applicant's own paper
    bundle = await (await gw.client.get("/v1/trust-bundle")).json()
    trust = TrustBundle.from_dict(bundle, root_fingerprint=fingerprint(gw.gateway.sealer.registry.root_certificate))
    assert verify_document(notice, trust).passed
    assert await gw.gateway.store.list_requests() == []  # nothing recorded, nothing sent
    assert gw.sandboxes["tax"].ledger.stats()["effective_submissions"] == 0
    rows = [r async for chunk in gw.gateway.audit.store.entries() for r in chunk]
    issued = [json.loads(r[1])["fields"] for r in rows if r[3] == "notice.issued"]
    assert [f["document_digest"] for f in issued] == [document_digest(notice)]  # what the notice's seal signed
    text = b"".join(r[1] for r in rows).decode("utf-8") + capsys.readouterr().out
    for personal in (PERSON["name"], REFUSED["applicant"]["id_number"]):
        assert personal not in text


async def test_an_envelope_intake_would_accept_needs_no_notice(gw) -> None:
    response = await notice_of(gw, PAYMENT_RECORD)
    problem = await response.json()
    assert response.status == 409 and problem["type"].endswith("/notice-not-needed")
    assert await gw.gateway.store.list_requests() == []


async def test_a_notice_is_refused_as_intake_refuses_an_unknown_item_or_a_caller_who_may_not_ask(gw) -> None:
    unknown = await notice_of(gw, {**REFUSED, "item": "tax.no-such-item"})
    assert unknown.status == 404
    elsewhere = await notice_of(gw, {**REFUSED, "office": "370303007000"})
    assert elsewhere.status == 403


async def test_the_notice_prints_as_a_signed_pdf_that_verifies(gw) -> None:
    response = await notice_of(gw, REFUSED, Accept="application/pdf")
    assert response.status == 201, await response.text()
    assert response.content_type == "application/pdf" and "notice" in response.headers["Content-Disposition"]
    pdf = await response.read()
    verdict = await gw.client.post("/v1/verify", data=pdf, headers={"Content-Type": "application/pdf"})
    report = await verdict.json()
    assert verdict.status == 200 and report["report"]["indication"] == "TOTAL_PASSED", json.dumps(report)[:500]
    from signing.printout.reading import read_printout

    text = "".join(read_printout(pdf).page_texts or ())
    assert "一次性告知书" in text and "需补正的材料和信息" in text
