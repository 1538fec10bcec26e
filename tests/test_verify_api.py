"""Verification of sealed results from the running gateway: API, trust bundle, page, offline tools."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from signing import SealRegistry, TrustBundle, verify_document
from signing.jose.jws import b64url_decode
from signing.model import parse_time
from signing.pki.certificates import fingerprint
from signing.sealing import sign_document
from signing.stamp import RED
from tests.browser import Browser, chromium_path, decode_png
from tests.conftest import IN_CI, make_district
from tests.helpers import CLEARANCE, PAYMENT_RECORD, TOWN
from tests.signing.test_independent_verification import third_party_verify


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
    assert (await verify(gw, [1, 2]))["report"]["sub_indication"] == "FORMAT_FAILURE"
    broken = await gw.client.post("/v1/verify", data=b"[1,2", headers={"Content-Type": "application/json"})
    assert broken.status == 400 and broken.content_type == "application/problem+json"
    assert "not JSON" in (await broken.json())["detail"]
    text = await gw.client.post("/v1/verify", data=b"{}", headers={"Content-Type": "text/plain"})
    assert text.status == 415


async def test_the_gateways_verdict_names_its_root_and_judges_with_its_own_registry(gw) -> None:
    result = await verify(gw, await sealed(gw))
    report = result["report"]
    assert report["root_sha256"] == report["trust"]["root_sha256"] == root_of(gw)
    assert report["trust"]["anchor"]["source"] == "local_registry" and report["trust"]["bundle_next_update"] is None
    assert f"Root SHA-256: {root_of(gw)}" in result["text"]


async def test_a_result_edited_to_name_the_amount_twice_is_a_format_failure_naming_it(gw) -> None:
    document = await sealed(gw)
    text = json.dumps(document, ensure_ascii=False)
    genuine = document["content"]["records"][0]["amount"]
    edited = text.replace(f'"amount": "{genuine}"', f'"amount": "99999.00", "amount": "{genuine}"', 1)
    assert json.loads(edited) == document  # the last one wins: a lenient parser sees the sealed value
    response = await gw.client.post("/v1/verify", data=edited.encode(), headers={"Content-Type": "application/json"})
    assert response.status == 200
    result = await response.json()
    report = result["report"]
    assert (report["indication"], report["sub_indication"]) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert "duplicate member name 'amount'" in report["checks"][0]["detail"]
    assert result["document"] is None and result["stamp_svg"] is None and report["root_sha256"] == root_of(gw)


async def test_a_request_resource_is_verified_by_its_result(gw) -> None:
    created = await (await gw.post(PAYMENT_RECORD)).json()
    result = await verify(gw, created)
    assert result["report"]["indication"] == "TOTAL_PASSED", result["text"]
    assert f"request resource {created['id']}" in result["report"]["notes"][0]
    assert result["document"]["request_id"] == created["id"] and "seal" not in result["document"]
    mislabelled = await verify(gw, {**created, "id": "01J0000000000000000000000X"})
    assert mislabelled["report"]["sub_indication"] == "FORMAT_FAILURE"


async def test_the_stamp_is_red_only_for_a_passed_verdict(gw) -> None:
    document = await sealed(gw)
    assert RED in (await verify(gw, document))["stamp_svg"]
    document["content"]["records"][0]["amount"] = "0.01"
    failed = await verify(gw, document)
    assert failed["report"]["sub_indication"] == "HASH_FAILURE"
    assert RED not in failed["stamp_svg"] and "未通过验证" in failed["stamp_svg"]


async def test_verification_requests_are_events(gw) -> None:
    seen = []
    gw.gateway.events.sinks.append(
        type("Sink", (), {"record": lambda self, kind, fields: seen.append((kind, fields))})()
    )
    await verify(gw, {"hello": "world"})
    (fields,) = [f for kind, f in seen if kind == "verification.requested"]
    assert fields["sub_indication"] == "FORMAT_FAILURE" and fields["document_digest"].startswith("hmac-sha256:")


def root_of(gw) -> str:
    """The fingerprint of the gateway's district root: what the bureau publishes for verifiers to pin."""
    return fingerprint(gw.gateway.sealer.registry.root_certificate)


async def test_the_trust_bundle_verifies_results_offline(gw, tmp_path: Path) -> None:
    document = await sealed(gw)
    bundle = await (await gw.client.get("/v1/trust-bundle")).json()
    assert verify_document(document, TrustBundle.from_dict(bundle, root_fingerprint=root_of(gw))).passed
    third_party_verify(copy.deepcopy(document), bundle)  # jwcrypto + rfc8785, from docs/seals.md alone
    (tmp_path / "doc.json").write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "bundle.json").write_text(json.dumps(bundle, ensure_ascii=False), encoding="utf-8")
    pin = ("--root-fingerprint", root_of(gw))
    ok = subprocess.run(
        [sys.executable, "-m", "signing", "verify", "doc.json", "--trust", "bundle.json", "--json", *pin],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "ONEWINDOW_TRUST_STORE": str(tmp_path / "trusted-roots.json")},
    )
    assert ok.returncode == 0, ok.stderr
    report = json.loads(ok.stdout)
    assert report["indication"] == "TOTAL_PASSED" and report["trust"]["root_sha256"] == root_of(gw)


async def test_revocation_stops_sealing_but_earlier_results_still_pass(start_gateway, tmp_path: Path) -> None:
    pki, secret = make_district(tmp_path)  # a district of its own: this test revokes a seal
    gw = await start_gateway(pki_dir=str(pki), pki_passphrase_file=str(secret))
    before = await sealed(gw)
    gw.gateway.sealer.registry.revoke(before["seal"]["number"], "街道合并 office merged", reason_code="superseded")
    report = (await verify(gw, before))["report"]
    assert report["indication"] == "TOTAL_PASSED" and "stays valid" in report["revocation_note"]
    refused = await gw.post(PAYMENT_RECORD)
    assert refused.status == 503
    problem = await refused.json()
    assert problem["type"] == "/problems/seal-unavailable" and TOWN in problem["detail"]


async def test_a_backdated_forgery_after_a_key_compromise_is_revoked_no_poe_but_a_logged_result_passes(
    start_gateway, tmp_path: Path
) -> None:
    """A thief with the seal key dates a forgery before the revocation; only the audit log can vouch for time."""
    pki, secret = make_district(tmp_path)
    gw = await start_gateway(pki_dir=str(pki), pki_passphrase_file=str(secret))
    created = await (await gw.post(PAYMENT_RECORD)).json()
    genuine = created["result"]
    await gw.gateway.audit.checkpoint()
    proven = await (await gw.get(f"/v1/requests/{created['id']}/audit-proof")).json()
    assert proven["seal"]["audit_proof"]
    registry = gw.gateway.sealer.registry
    seal = registry.get(genuine["seal"]["number"])
    stolen = registry.signer_for(seal)
    registry.revoke(seal.number, "印章密钥卡遗失 key card lost", reason_code="key_compromise")
    header = json.loads(b64url_decode(genuine["seal"]["jws"].split(".")[0]))
    content = {k: v for k, v in genuine.items() if k != "seal"}
    content["content"] = {**content["content"], "records": []}
    forged = sign_document(
        content,
        stolen,
        seal,
        item=header["ow_item"],
        request_id=genuine["request_id"],
        signed_at=parse_time(header["sigT"]),  # "sealed" when the genuine one was, before the revocation
    )
    result = await verify(gw, forged)
    assert (result["report"]["indication"], result["report"]["sub_indication"]) == ("INDETERMINATE", "REVOKED_NO_POE")
    assert "REVOKED_NO_POE" in result["text"] and "密钥泄露" in result["text"]
    result = await verify(gw, proven)  # the gateway checks the proof with its own audit key
    report = result["report"]
    assert report["indication"] == "TOTAL_PASSED", result["text"]
    assert "existed by" in report["revocation_note"] and "key_compromise" in report["revocation_note"]
    assert {c["name"]: c["passed"] for c in report["checks"]}["audit_proof"] is True
    report = (await verify(gw, genuine))["report"]  # the same result without its proof
    assert report["sub_indication"] == "REVOKED_NO_POE"


async def test_without_the_audit_log_the_gateway_cannot_show_proof_of_existence(start_gateway, tmp_path: Path) -> None:
    pki, secret = make_district(tmp_path)
    gw = await start_gateway(pki_dir=str(pki), pki_passphrase_file=str(secret))
    created = await (await gw.post(PAYMENT_RECORD)).json()
    await gw.gateway.audit.checkpoint()
    proven = await (await gw.get(f"/v1/requests/{created['id']}/audit-proof")).json()
    gw.gateway.sealer.registry.revoke(proven["seal"]["number"], "lost", reason_code="key_compromise")
    audit, gw.gateway.audit = gw.gateway.audit, None  # as with [audit] enabled = false
    try:
        report = (await verify(gw, proven))["report"]
    finally:
        gw.gateway.audit = audit
    assert report["sub_indication"] == "REVOKED_NO_POE"
    assert {c["name"]: c["passed"] for c in report["checks"]}["audit_proof"] is None


def _district_without_root_key(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of a district as the bureau hands it to a gateway host: no root key."""
    pki, secret = make_district(tmp_path / "bureau")
    gateway_pki = tmp_path / "gateway-pki"
    shutil.copytree(pki, gateway_pki)
    (gateway_pki / "root" / "root-key.pem").unlink()
    return gateway_pki, secret


async def test_the_gateway_seals_verifies_and_serves_the_bundle_without_the_root_key(
    start_gateway, tmp_path: Path
) -> None:
    pki, secret = _district_without_root_key(tmp_path)
    gw = await start_gateway(pki_dir=str(pki), pki_passphrase_file=str(secret))
    document = await sealed(gw)
    assert (await verify(gw, document))["report"]["indication"] == "TOTAL_PASSED"
    gw.gateway.sealer.registry.revoke(document["seal"]["number"], "office merged", reason_code="superseded")
    refused = await gw.post(PAYMENT_RECORD)  # the revocation shows at once, without a re-export
    assert refused.status == 503
    assert "stays valid" in (await verify(gw, document))["report"]["revocation_note"]
    response = await gw.client.get("/v1/trust-bundle")
    assert response.status == 200
    served = await response.read()
    assert served == (pki / "trust-bundle.json").read_bytes()  # the bundle the bureau exported, as is
    assert verify_document(document, TrustBundle.from_dict(json.loads(served), root_fingerprint=root_of(gw))).passed
    assert not (pki / "root" / "root-key.pem").exists()


async def test_the_trust_bundle_route_says_when_the_registry_changed_after_the_export(
    start_gateway, tmp_path: Path
) -> None:
    pki, secret = _district_without_root_key(tmp_path)
    gw = await start_gateway(pki_dir=str(pki), pki_passphrase_file=str(secret))
    stale_header = "Onewindow-Trust-Bundle-Stale"
    first = await gw.client.get("/v1/trust-bundle")
    assert first.status == 200 and stale_header not in first.headers
    number = gw.gateway.sealer.registry.seals()[0].number
    gw.gateway.sealer.registry.suspend(number, "audit in progress")  # on the gateway host: no re-export
    stale = await gw.client.get("/v1/trust-bundle")
    assert stale.status == 200 and stale.headers[stale_header] == "registry-changed"
    assert await stale.read() == await first.read()  # still the exported file
    # The bureau re-exports (it holds the root key) and copies the bundle over.
    bureau = SealRegistry.open(tmp_path / "bureau" / "pki")
    bureau.suspend(number, "audit in progress", at=gw.gateway.sealer.registry.get(number).history[-1].at)
    bundle = bureau.export_trust_bundle(pki / "trust-bundle.json", passphrase=_passphrase(secret))
    fresh = await gw.client.get("/v1/trust-bundle")
    assert fresh.status == 200 and stale_header not in fresh.headers
    assert json.loads(await fresh.read())["issued_at"] == bundle["issued_at"]
    # A bundle past its next update is served too, and says so.
    old = datetime.now(UTC) - timedelta(days=30)
    bureau.export_trust_bundle(pki / "trust-bundle.json", passphrase=_passphrase(secret), now=old)
    aged = await gw.client.get("/v1/trust-bundle")
    assert aged.status == 200 and aged.headers[stale_header] == "next-update-passed"


async def test_no_exported_bundle_is_a_clear_problem(start_gateway, tmp_path: Path) -> None:
    pki, secret = _district_without_root_key(tmp_path)
    gw = await start_gateway(pki_dir=str(pki), pki_passphrase_file=str(secret))
    (pki / "trust-bundle.json").unlink()
    missing = await gw.client.get("/v1/trust-bundle")
    assert missing.status == 503 and missing.content_type == "application/problem+json"
    problem = await missing.json()
    assert problem["type"] == "/problems/trust-bundle-unavailable" and "export-trust" in problem["detail"]
    foreign_pki, _ = make_district(tmp_path / "elsewhere")  # another district's bundle copied by mistake
    shutil.copy(foreign_pki / "trust-bundle.json", pki / "trust-bundle.json")
    wrong = await gw.client.get("/v1/trust-bundle")
    assert wrong.status == 503 and "root" in (await wrong.json())["detail"]
    assert (await verify(gw, await sealed(gw)))["report"]["indication"] == "TOTAL_PASSED"  # verifying never needed it
    assert (await gw.client.get("/problems/trust-bundle-unavailable")).status == 200


async def test_the_gateway_refuses_to_serve_a_bundle_naming_a_member_twice(start_gateway, tmp_path: Path) -> None:
    pki, secret = make_district(tmp_path)
    gw = await start_gateway(pki_dir=str(pki), pki_passphrase_file=str(secret))
    path = pki / "trust-bundle.json"
    text = path.read_text(encoding="utf-8")
    at = text.index('"next_update": ')
    path.write_text(text[:at] + '"next_update": "2999-01-01T00:00:00Z", ' + text[at:], encoding="utf-8")
    response = await gw.client.get("/v1/trust-bundle")
    assert response.status == 503 and "duplicate member name 'next_update'" in (await response.json())["detail"]


async def test_the_sample_district_made_at_first_start_exports_its_bundle(start_gateway, tmp_path: Path) -> None:
    pki = tmp_path / "sample" / "pki"
    gw = await start_gateway(
        pki_dir=str(pki), pki_passphrase_file=str(tmp_path / "sample" / "passphrase"), pki_create_sample=True
    )
    assert (pki / "trust-bundle.json").exists()
    response = await gw.client.get("/v1/trust-bundle")
    assert response.status == 200 and "Onewindow-Trust-Bundle-Stale" not in response.headers
    bundle = TrustBundle.from_dict(await response.json(), root_fingerprint=root_of(gw))
    assert verify_document(await sealed(gw), bundle).passed


def _passphrase(path: Path):
    from signing.keys.passphrase import Passphrase

    return Passphrase(path.read_bytes().rstrip(b"\n"))


needs_chromium = pytest.mark.skipif(not chromium_path() and not IN_CI, reason="chromium is not installed")


async def _paste_and_verify(browser: Browser, text: str, expect: str) -> str:
    """Paste ``text``, press Verify, wait for a verdict of class ``expect``; returns the result panel's text."""
    await browser.evaluate("document.getElementById('verdict').className = 'waiting'")
    await browser.evaluate(f"document.getElementById('document').value = {json.dumps(text)}")
    await browser.evaluate("document.getElementById('verify').click()")
    await browser.wait_for(f"document.getElementById('verdict').className === {json.dumps(expect)}")
    return str(await browser.evaluate("document.querySelector('main').innerText"))


def _red_share(png: bytes) -> float:
    width, height, pixels = decode_png(png)
    assert width >= 200 and height >= 200
    return sum(1 for r, g, b in pixels if r > 150 and g < 90 and b < 90) / len(pixels)


@needs_chromium
async def test_the_verification_page_shows_the_document_and_the_verdict_in_words(gw, tmp_path: Path) -> None:
    created = await (await gw.post(CLEARANCE)).json()
    document = created["result"]
    async with Browser(tmp_path / "profile") as browser:
        await browser.goto(str(gw.client.make_url("/verify")))
        assert "电子印章验证" in await browser.evaluate("document.title")
        page = await _paste_and_verify(browser, json.dumps(document, ensure_ascii=False), "pass")
        assert "验证通过" in await browser.evaluate("document.getElementById('verdict').textContent")
        # The content, readably: item, applicant, office, and the agency's answer as a table.
        summary = await browser.evaluate("document.getElementById('summary').innerText")
        assert document["item_name"]["zh"] in summary and document["applicant"]["name"] in summary
        assert document["office"]["name"] in summary and "办理事项 Item" in summary
        answer = await browser.evaluate("document.getElementById('answer').innerText")
        assert document["content"]["certificate_no"] in answer
        assert await browser.evaluate("document.querySelectorAll('#answer table td').length") >= 2
        assert "不可采信" not in page and "以下内容与印章所盖内容一致" in page
        # Checks and the seal kind in words, not identifiers; the root fingerprint shown.
        checks = await browser.evaluate("document.getElementById('check-rows').innerText")
        assert "内容摘要" in checks and "签名值" in checks and "payload_digest" not in checks
        facts = await browser.evaluate("document.getElementById('facts').innerText")
        assert document["seal"]["number"] in facts and "行政审批专用章" in facts and "delegated_approval" not in facts
        assert root_of(gw) in facts
        assert _red_share(await browser.screenshot("#stamp")) > 0.03, "no red stamp drawn for a passed verdict"
        (tmp_path / "passed.png").write_bytes(await browser.screenshot())
        # The request resource as the gateway returned it: verified by its result.
        page = await _paste_and_verify(browser, json.dumps(created, ensure_ascii=False), "pass")
        assert f"request resource {created['id']}" in page
        # A tampered document: failed in words, content marked unreliable, and the stamp not red.
        tampered = copy.deepcopy(document)
        tampered["content"]["certificate_no"] = "伪造"
        page = await _paste_and_verify(browser, json.dumps(tampered, ensure_ascii=False), "fail")
        assert "HASH_FAILURE" in page and "盖章后内容被改动过" in page and "不可采信" in page
        png = await browser.screenshot("#stamp")
        assert _red_share(png) < 0.002, "a failed verdict must not draw the stamp red, as if valid"
        assert sum(1 for r, g, b in decode_png(png)[2] if abs(r - g) < 12 and abs(g - b) < 12 and r < 200) > 500
        (tmp_path / "failed.png").write_bytes(await browser.screenshot())


@needs_chromium
async def test_the_verification_page_refuses_a_document_that_names_a_member_twice(gw, tmp_path: Path) -> None:
    document = await sealed(gw, CLEARANCE)
    genuine = document["content"]["certificate_no"]
    text = json.dumps(document, ensure_ascii=False).replace(
        f'"certificate_no": "{genuine}"', f'"certificate_no": "伪造", "certificate_no": "{genuine}"'
    )
    async with Browser(tmp_path / "profile") as browser:
        await browser.goto(str(gw.client.make_url("/verify")))
        page = await _paste_and_verify(browser, text, "fail")
        assert "FORMAT_FAILURE" in page and "duplicate member name 'certificate_no'" in page
        assert await browser.evaluate("document.getElementById('content-section').hidden") is True


@needs_chromium
async def test_the_verification_page_draws_chinese_glyphs_not_empty_boxes(gw, tmp_path: Path) -> None:
    """Without a CJK font every character is the same empty box: two different texts would look identical."""
    async with Browser(tmp_path / "profile") as browser:
        await browser.goto(str(gw.client.make_url("/verify")))
        await browser.evaluate(
            "document.body.insertAdjacentHTML('afterbegin', "
            '\'<p style="font-size:40px;margin:0"><span id="a">印章真实有效</span></p>'
            '<p style="font-size:40px;margin:0"><span id="b">内容未被改动</span></p>\')'
        )
        first, second = decode_png(await browser.screenshot("#a")), decode_png(await browser.screenshot("#b"))
        assert first[:2] == second[:2]
        ink = [sum(1 for r, g, b in image[2] if r + g + b < 300) for image in (first, second)]
        assert min(ink) > 100, f"no glyphs drawn: {ink}"
        differing = sum(1 for p, q in zip(first[2], second[2], strict=True) if p != q)
        assert differing > len(first[2]) // 20, "two different Chinese texts render alike: empty boxes, no CJK font"


async def test_the_sample_district_scopes_each_seal_to_its_kind_of_items(start_gateway, tmp_path: Path) -> None:
    """A service-centre seal put on an item that needs the numbered approval seal does not pass, even offline."""
    from signing.keys.passphrase import Passphrase
    from signing.sealing import sign_document

    gw = await start_gateway(
        pki_dir=str(tmp_path / "pki"), pki_passphrase_file=str(tmp_path / "secret"), pki_create_sample=True
    )
    registry = gw.gateway.sealer.registry
    assert registry.seal_for(TOWN, "service_centre", "property.title-reissue") is None
    centre = registry.seal_for(TOWN, "service_centre", "tax.payment-record")
    approval = registry.seal_for(TOWN, "delegated_approval", "property.title-reissue")
    assert centre is not None and approval is not None
    document = {"document_type": "onewindow.result.v1", "item": "property.title-reissue", "request_id": "R-1"}
    signer = registry.signer_for(centre, passphrase=Passphrase((tmp_path / "secret").read_bytes().strip()))
    misused = sign_document(document, signer, centre, item="property.title-reissue", request_id="R-1")
    report = (await verify(gw, misused))["report"]
    assert report["sub_indication"] == "SIG_CONSTRAINTS_FAILURE"
