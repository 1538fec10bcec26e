"""Printouts through the running gateway: one item of each agency, printed, checked by others, and tampered with.

``GET /v1/requests/{id}/document.pdf`` for a completed request of each
agency: poppler's ``pdfsig`` (NSS, not the library that signed) trusts the
signature through the district root alone; the page, rendered by
``pdftoppm``, shows the item's Chinese title in real glyphs and the red
stamp; ``POST /v1/verify`` with the PDF passes, and with one byte changed
fails with HASH_FAILURE.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from gateway.config import PrintoutSettings
from gateway.testing import envelope_for
from tests.browser import Browser, chromium_path, decode_png
from tests.conftest import IN_CI, make_district
from tests.printouts import TimeStampingAuthority, check_picture, pdfsig, stamp_box

ONE_PER_AGENCY = (
    "tax.payment-record",
    "social_security.payment-certificate",
    "medical.insurance-certificate",
    "housing_fund.deposit-certificate",
    "property.registration-query",
)


async def completed(gw: Any, item: str) -> dict[str, Any]:
    response = await gw.post(envelope_for(gw.gateway.registry.catalogue.get(item)))
    body = await response.json()
    assert response.status == 201 and body["status"] == "completed", body
    return dict(body)


async def printout_of(gw: Any, request_id: str, **kw: Any) -> bytes:
    response = await gw.get(f"/v1/requests/{request_id}/document.pdf", **kw)
    assert response.status == 200, await response.text()
    assert response.content_type == "application/pdf" and response.headers["Onewindow-PAdES-Level"] == "B-B"
    assert response.headers["Cache-Control"] == "no-store"
    return bytes(await response.read())


async def verify_pdf(gw: Any, pdf: bytes) -> dict[str, Any]:
    response = await gw.client.post("/v1/verify", data=pdf, headers={"Content-Type": "application/pdf"})
    assert response.status == 200, await response.text()
    return dict(await response.json())


@pytest.mark.parametrize("item", ONE_PER_AGENCY)
async def test_each_agencys_printout_is_trusted_by_an_independent_validator_shows_its_title_and_stamp_and_verifies(
    gw: Any, item: str, tmp_path: Path
) -> None:
    body = await completed(gw, item)
    pdf = await printout_of(gw, body["id"])
    root_pem = gw.gateway.sealer.registry.root_certificate.public_bytes(Encoding.PEM)
    poppler = pdfsig(pdf, root_pem, tmp_path)
    assert "Signature is Valid." in poppler and "Certificate is Trusted." in poppler, poppler
    layout = gw.gateway.registry.catalogue.get(item).printout
    assert layout is not None and layout.declared
    box, page = stamp_box(pdf)
    check_picture(pdf, layout.title, box, page=page)
    answer = await verify_pdf(gw, pdf)
    assert answer["format"] == "pdf" and answer["report"]["indication"] == "TOTAL_PASSED", answer["text"]
    assert answer["document_report"]["indication"] == "TOTAL_PASSED"
    assert answer["report"]["seal_number"] == body["result"]["seal"]["number"]
    assert answer["document"]["request_id"] == body["id"] and "seal" not in answer["document"]
    assert answer["stamp_svg"] and "#d7261e" in answer["stamp_svg"]  # red: it passed


async def test_a_printout_with_one_byte_changed_fails_at_the_gateway_with_hash_failure(gw: Any) -> None:
    body = await completed(gw, "tax.payment-record")
    pdf = await printout_of(gw, body["id"])
    at = pdf.index(b"stream", pdf.index(b"/Contents")) + 60  # inside a signed content stream
    answer = await verify_pdf(gw, pdf[:at] + bytes([pdf[at] ^ 0x04]) + pdf[at + 1 :])
    assert (answer["report"]["indication"], answer["report"]["sub_indication"]) == ("TOTAL_FAILED", "HASH_FAILURE")
    assert "#d7261e" not in (answer["stamp_svg"] or "")  # never drawn red when it failed


async def test_a_printout_is_only_for_a_completed_request_its_caller_may_read(start_gateway: Any) -> None:
    gw = await start_gateway()
    body = await completed(gw, "tax.payment-record")
    other = await gw.get(f"/v1/requests/{body['id']}/document.pdf", key="sample-mashang-window-key")
    assert other.status == 404  # another office's window may not read it, so may not print it
    pending = await (await gw.post(envelope_for(gw.gateway.registry.catalogue.get("property.title-reissue")))).json()
    assert pending["status"] in ("pending", "accepted", "deferred")
    early = await gw.get(f"/v1/requests/{pending['id']}/document.pdf")
    problem = await early.json()
    assert early.status == 409 and problem["type"] == "/problems/no-sealed-result"


async def test_a_seal_revoked_since_gets_a_clear_problem_not_a_printout(start_gateway: Any, tmp_path: Path) -> None:
    pki, secret = make_district(tmp_path)  # a district of its own: this test revokes a seal
    gw = await start_gateway(pki_dir=str(pki), pki_passphrase_file=str(secret))
    body = await completed(gw, "tax.payment-record")
    registry = gw.gateway.sealer.registry
    registry.revoke(body["result"]["seal"]["number"], reason="office merged", reason_code="cessation_of_operation")
    response = await gw.get(f"/v1/requests/{body['id']}/document.pdf")
    problem = await response.json()
    assert response.status == 503 and problem["type"] == "/problems/printout-unavailable", problem
    assert "cannot sign" in problem["detail"]


async def test_printing_is_recorded_in_the_audit_log(gw: Any) -> None:
    body = await completed(gw, "medical.insurance-certificate")
    seen: list[tuple[str, dict[str, Any]]] = []
    gw.gateway.events.sinks.append(
        type("Spy", (), {"record": lambda self, kind, fields: seen.append((kind, fields))})()
    )
    await printout_of(gw, body["id"])
    (fields,) = [f for kind, f in seen if kind == "printout.issued"]
    assert fields["request_id"] == body["id"] and fields["seal_number"] == body["result"]["seal"]["number"]
    assert fields["pades_level"] == "B-B" and str(fields["document_digest"]).startswith("hmac-sha256:")
    assert "张伟" not in json.dumps(fields, ensure_ascii=False)


async def test_the_verify_endpoint_refuses_a_body_that_is_no_pdf_and_names_both_media_types(gw: Any) -> None:
    not_pdf = await gw.client.post("/v1/verify", data=b"hello", headers={"Content-Type": "application/pdf"})
    assert not_pdf.status == 400 and "not a PDF" in (await not_pdf.json())["detail"]
    wrong = await gw.client.post("/v1/verify", data=b"x", headers={"Content-Type": "text/plain"})
    assert wrong.status == 415 and "application/pdf" in (await wrong.json())["detail"]


async def test_the_json_verdict_names_the_verification_code_the_printout_prints(gw: Any) -> None:
    body = await completed(gw, "tax.payment-record")
    answer = await (await gw.client.post("/v1/verify", json=body["result"])).json()
    assert answer["format"] == "json" and answer["report"]["indication"] == "TOTAL_PASSED"
    pdf_answer = await verify_pdf(gw, await printout_of(gw, body["id"]))
    assert answer["verification_code"] == pdf_answer["verification_code"]


def _drop_script(pdf: bytes, name: str) -> str:
    """Page script: drop ``pdf`` on the document box as a person drags a file there."""
    encoded = base64.b64encode(pdf).decode("ascii")
    return (
        f"(() => {{ const bytes = Uint8Array.from(atob('{encoded}'), (c) => c.charCodeAt(0));"
        f" const file = new File([bytes], {json.dumps(name)}, {{type: 'application/pdf'}});"
        " const data = new DataTransfer(); data.items.add(file);"
        " document.getElementById('drop').dispatchEvent("
        "new DragEvent('drop', {dataTransfer: data, bubbles: true, cancelable: true})); })()"
    )


needs_chromium = pytest.mark.skipif(not chromium_path() and not IN_CI, reason="chromium is not installed")


def _red_share(png: bytes) -> float:
    width, height, pixels = decode_png(png)
    return sum(1 for r, g, b in pixels if r > 150 and g < 90 and b < 90) / (width * height)


@needs_chromium
async def test_scanning_the_qr_code_opens_the_page_which_checks_a_dropped_printout_against_the_code(
    gw: Any, tmp_path: Path
) -> None:
    from signing.printout.reading import read_printout

    body = await completed(gw, "housing_fund.deposit-certificate")
    pdf = await printout_of(gw, body["id"])
    (link,) = read_printout(pdf).link_uris
    assert link.startswith(gw.gateway.settings.public_url + "/verify?")
    other = await printout_of(gw, (await completed(gw, "tax.payment-record"))["id"])
    async with Browser(tmp_path / "profile") as browser:
        await browser.goto(str(gw.client.make_url("/verify")) + "?" + urlsplit(link).query)
        banner = await browser.evaluate("document.getElementById('scanned').innerText")
        assert body["id"] in banner and "张伟" not in banner  # the code names the request, nothing personal
        await browser.evaluate(_drop_script(pdf, "printout.pdf"))
        await browser.wait_for("document.getElementById('verdict').className === 'pass'")
        assert await browser.evaluate("document.getElementById('scan-match').className") == "ok"
        inner = await browser.evaluate("document.getElementById('inner-verdict').textContent")
        assert "验证通过" in inner and body["result"]["seal"]["number"] in inner
        checks = await browser.evaluate("document.getElementById('check-rows').innerText")
        assert "打印内容与 JSON 原件一致" in checks and "PDF 签名值" in checks
        assert _red_share(await browser.screenshot("#stamp")) > 0.03
        (tmp_path / "printout-passed.png").write_bytes(await browser.screenshot())
        await browser.evaluate("document.getElementById('verdict').className = 'waiting'")
        await browser.evaluate(_drop_script(other, "other.pdf"))
        await browser.wait_for("document.getElementById('verdict').className === 'pass'")
        assert await browser.evaluate("document.getElementById('scan-match').className") == "bad"


async def test_with_a_time_stamping_authority_printouts_are_b_t_and_the_gateway_trusts_the_time_it_names(
    start_gateway: Any, tmp_path: Path
) -> None:
    with TimeStampingAuthority(tmp_path) as tsa:
        (tmp_path / "tsa-root.pem").write_bytes(tsa.root_pem)
        settings = PrintoutSettings(timestamp_url=tsa.url, timestamp_roots_file=str(tmp_path / "tsa-root.pem"))
        gw = await start_gateway(printouts=settings)
        body = await completed(gw, "tax.payment-record")
        response = await gw.get(f"/v1/requests/{body['id']}/document.pdf")
        assert response.status == 200 and response.headers["Onewindow-PAdES-Level"] == "B-T"
        pdf = await response.read()
        assert tsa.requests >= 1
    answer = await verify_pdf(gw, pdf)
    checks = {c["name"]: c["passed"] for c in answer["report"]["checks"]}
    assert checks["signature_timestamp"] is True and answer["report"]["indication"] == "TOTAL_PASSED"


async def test_a_time_stamping_authority_that_does_not_answer_means_no_printout_not_an_unstamped_one(
    start_gateway: Any, tmp_path: Path
) -> None:
    gw = await start_gateway(
        printouts=PrintoutSettings(timestamp_url="http://127.0.0.1:9/tsa")
    )  # discard port: refused
    body = await completed(gw, "tax.payment-record")
    response = await gw.get(f"/v1/requests/{body['id']}/document.pdf")
    assert response.status == 503 and (await response.json())["type"] == "/problems/printout-unavailable"


def test_a_time_stamping_authority_must_be_an_http_url(tmp_path: Path) -> None:
    from gateway.config import load_settings
    from gateway.errors import ConfigError

    (tmp_path / "c.toml").write_text('[printouts]\ntimestamp_url = "ftp://tsa.example.cn/"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"printouts\.timestamp_url"):
        load_settings(tmp_path / "c.toml", environ={})
