"""Verification of sealed results from the running gateway: API, trust bundle, page, offline tools."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from signing import TrustBundle, verify_document
from tests.browser import Browser, chromium_path, decode_png
from tests.conftest import IN_CI, make_district
from tests.helpers import ORGANISATION, PERSON, TOWN
from tests.signing.test_independent_verification import third_party_verify

PAYMENT_RECORD = {
    "item": "tax.payment-record",
    "applicant": PERSON,
    "materials": {"period_start": "2025-01-01", "period_end": "2025-12-31"},
    "office": TOWN,
    "operator": "fz-window-01",
    "channel": "window",
}
CLEARANCE = {
    **PAYMENT_RECORD,
    "item": "tax.clearance-certificate",
    "applicant": ORGANISATION,
    "materials": {
        "reason": "注销登记",
        "contact_phone": "13805330123",
        "invoice_cancellation_proof": {"media_type": "application/pdf", "content_base64": "JVBERi0xLjQK"},
    },
}


async def sealed(gw, body=PAYMENT_RECORD) -> dict:
    response = await gw.post(body)
    assert response.status == 201, await response.text()
    return (await response.json())["result"]


async def verify(gw, document) -> dict:
    response = await gw.client.post("/v1/verify", json=document)
    assert response.status == 200
    return await response.json()


async def test_a_result_from_the_gateway_passes_and_shows_its_stamp(gw) -> None:
    document = await sealed(gw)
    result = await verify(gw, document)
    report = result["report"]
    assert report["indication"] == "TOTAL_PASSED" and report["sub_indication"] is None, result["text"]
    assert report["seal_number"] == document["seal"]["number"] and report["kind"] == "service_centre"
    assert report["holder"]["office"] == TOWN and report["item"] == "tax.payment-record"
    assert report["request_id"] == document["request_id"]
    assert "<svg" in result["stamp_svg"] and report["holder"]["name"] in result["stamp_svg"]
    assert "验证" in result["text"] or "Passed" in result["text"]


async def test_an_approval_item_carries_the_numbered_approval_seal(gw) -> None:
    document = await sealed(gw, CLEARANCE)
    report = (await verify(gw, document))["report"]
    assert report["indication"] == "TOTAL_PASSED" and report["kind"] == "delegated_approval"
    assert "-SP-" in document["seal"]["number"]


async def test_a_changed_document_fails_with_hash_failure(gw) -> None:
    document = await sealed(gw)
    document["content"]["records"][0]["amount"] = "0.01"
    report = (await verify(gw, document))["report"]
    assert (report["indication"], report["sub_indication"]) == ("TOTAL_FAILED", "HASH_FAILURE")


async def test_something_that_is_not_a_sealed_document_is_a_format_failure(gw) -> None:
    report = (await verify(gw, {"hello": "world"}))["report"]
    assert report["sub_indication"] == "FORMAT_FAILURE"
    assert (
        await gw.client.post("/v1/verify", data=b"[1,2", headers={"Content-Type": "application/json"})
    ).status == 400


async def test_verification_requests_are_events(gw) -> None:
    seen = []
    gw.gateway.events.sinks.append(
        type("Sink", (), {"record": lambda self, kind, fields: seen.append((kind, fields))})()
    )
    await verify(gw, {"hello": "world"})
    (fields,) = [f for kind, f in seen if kind == "verification.requested"]
    assert fields["sub_indication"] == "FORMAT_FAILURE" and fields["document_digest"].startswith("sha256:")


async def test_the_trust_bundle_verifies_results_offline(gw, tmp_path: Path) -> None:
    document = await sealed(gw)
    bundle = await (await gw.client.get("/v1/trust-bundle")).json()
    assert verify_document(document, TrustBundle.from_dict(bundle)).passed
    third_party_verify(copy.deepcopy(document), bundle)  # jwcrypto + rfc8785, from docs/seals.md alone
    (tmp_path / "doc.json").write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "bundle.json").write_text(json.dumps(bundle, ensure_ascii=False), encoding="utf-8")
    ok = subprocess.run(
        [sys.executable, "-m", "signing", "verify", "doc.json", "--trust", "bundle.json", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["indication"] == "TOTAL_PASSED"


async def test_revocation_stops_sealing_but_earlier_results_still_pass(start_gateway, tmp_path: Path) -> None:
    pki, secret = make_district(tmp_path)  # a district of its own: this test revokes a seal
    gw = await start_gateway(pki_dir=str(pki), pki_passphrase_file=str(secret))
    before = await sealed(gw)
    gw.gateway.sealer.registry.revoke(before["seal"]["number"], "印章遗失 seal lost", reason_code="key_compromise")
    report = (await verify(gw, before))["report"]
    assert report["indication"] == "TOTAL_PASSED" and report["revocation_note"]
    refused = await gw.post(PAYMENT_RECORD)
    assert refused.status == 503
    problem = await refused.json()
    assert problem["type"] == "/problems/seal-unavailable" and TOWN in problem["detail"]


@pytest.mark.skipif(not chromium_path() and not IN_CI, reason="chromium is not installed")
async def test_the_verification_page_works_in_a_real_browser(gw, tmp_path: Path) -> None:
    document = await sealed(gw, CLEARANCE)
    async with Browser(tmp_path / "profile") as browser:
        await browser.goto(str(gw.client.make_url("/verify")))
        assert "电子印章验证" in await browser.evaluate("document.title")
        await browser.evaluate(f"document.getElementById('document').value = {json.dumps(json.dumps(document))}")
        await browser.evaluate("document.getElementById('verify').click()")
        await browser.wait_for(
            "document.getElementById('verdict').textContent.includes('TOTAL') || "
            "document.getElementById('verdict').className === 'pass'"
        )
        verdict = await browser.evaluate("document.getElementById('verdict').textContent")
        assert "验证通过" in verdict
        facts = await browser.evaluate("document.getElementById('facts').innerText")
        assert document["seal"]["number"] in facts
        png = await browser.screenshot("#stamp")
        width, height, pixels = decode_png(png)
        red = sum(1 for r, g, b in pixels if r > 150 and g < 90 and b < 90)
        assert width >= 200 and height >= 200
        assert red / len(pixels) > 0.03, f"only {red} red pixels: no stamp drawn"
        (tmp_path / "page.png").write_bytes(await browser.screenshot())
        # A tampered document: the page says so in plain words, and draws no false assurance.
        document["content"]["certificate_no"] = "伪造"
        await browser.evaluate(f"document.getElementById('document').value = {json.dumps(json.dumps(document))}")
        await browser.evaluate("document.getElementById('verify').click()")
        await browser.wait_for("document.getElementById('verdict').className === 'fail'")
        assert "HASH_FAILURE" in await browser.evaluate("document.getElementById('verdict').textContent")
