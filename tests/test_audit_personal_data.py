"""Nothing a caller sends reaches the append-only audit log unmasked; digests in it are keyed."""

from __future__ import annotations

import base64
import json
from typing import Any

from gateway.audit.secret import load_audit_secret
from gateway.observability.events import PayloadDigests, digest
from tests.helpers import PAYMENT_RECORD, PERSON

NAME, ID_NUMBER, PHONE = PERSON["name"], PERSON["id_number"], "13912345678"
TAINT = f"{NAME}{ID_NUMBER}"  # what an intake screen typed into the wrong box
APPLICANT = {**PERSON, "phone": PHONE}


def with_header(document: dict[str, Any], **changes: str) -> dict[str, Any]:
    """The document with its seal's protected header changed (the signature then fails, the fields are read)."""
    header_b64, _, signature = document["seal"]["jws"].split(".")
    header = json.loads(base64.urlsafe_b64decode(header_b64 + "=" * (-len(header_b64) % 4)))
    header.update(changes)
    encoded = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    seal = {**document["seal"], "jws": f"{encoded}..{signature}", "number": header["kid"]}
    return {**document, "seal": seal}


async def entries(gw: Any) -> list[dict[str, Any]]:
    return [json.loads(r[1]) async for chunk in gw.gateway.audit.store.entries() for r in chunk]


def one(found: list[dict[str, Any]], kind: str, request_id: str) -> dict[str, Any]:
    (entry,) = [e for e in found if e["kind"] == kind and e.get("request_id") == request_id]
    return dict(entry["fields"])


async def test_personal_data_in_every_field_a_caller_controls_reaches_no_audit_entry(gw) -> None:
    base = {**PAYMENT_RECORD, "applicant": APPLICANT}
    materials = PAYMENT_RECORD["materials"]
    sent = {
        "item": {**base, "item": TAINT},
        "item_code": {**base, "item": f"tax.{NAME}-{PHONE}"},
        "channel": {**base, "channel": f"{PHONE}"},
        "office": {**base, "office": ID_NUMBER},
        "material_name": {**base, "materials": {**materials, TAINT: PHONE}},
        "material_value": {**base, "materials": {**materials, "period_start": TAINT}},
        "envelope_member": {**base, TAINT: PHONE},
        "callback_url": {**base, "callback_url": f"http://127.0.0.1:9/{TAINT}?tel={PHONE}"},
        "operator": {**base, "operator": f"{NAME}{PHONE}"},
    }
    ids = {}
    for name, body in sent.items():
        answer = await gw.post(body, **{"Idempotency-Key": f"{ID_NUMBER}-{PHONE}-{name}"})
        ids[name] = (await answer.json()).get("request_id") or (await answer.json())["id"]
    sealed = await (await gw.post(PAYMENT_RECORD)).json()
    forged = with_header(sealed["result"], ow_request_id=TAINT, kid=f"{NAME}-{PHONE}")  # anyone may post this
    report = (await (await gw.client.post("/v1/verify", json=forged)).json())["report"]
    assert report["request_id"] == TAINT  # the verifier reads it from the forged header

    found = await entries(gw)
    rows = [r async for chunk in gw.gateway.audit.store.entries() for r in chunk]
    stored = b"".join(r[1] + (r[6] or b"") for r in rows).decode("utf-8")
    for personal in (NAME, ID_NUMBER, PHONE, "19900101", "1990-01-01"):
        assert personal not in stored, personal
    # ... and the entries are there, masked as the logs mask them (not dropped): the applicant's own
    # values wherever they appear, any ID number or phone number by its shape.
    masked_taint = "张*3703**********1239"  # the name as a known personal value, the ID number by its shape
    assert one(found, "validation.failed", ids["item"])["item_requested"] == masked_taint
    assert one(found, "authorisation.denied", ids["channel"])["channel"] == "139****5678"
    assert one(found, "authorisation.denied", ids["office"])["office"] == "3703**********1239"
    problems = one(found, "validation.failed", ids["material_name"])["problems"]
    assert any(masked_taint in p for p in problems), problems
    assert one(found, "request.accepted", ids["operator"])["operator"] == "张*1**********"
    (verified,) = [e for e in found if e["kind"] == "verification.requested"]
    assert verified["request_id"] == "张*3*****************" and verified["fields"]["seal_number"] == "张*-139****5678"


async def test_request_digests_are_keyed_so_equal_envelopes_differ_and_only_the_district_can_check_them(gw) -> None:
    first = await (await gw.post(PAYMENT_RECORD)).json()
    second = await (await gw.post(PAYMENT_RECORD)).json()
    found = await entries(gw)
    digests = [one(found, "request.accepted", body["id"])["request_digest"] for body in (first, second)]
    assert digests[0] != digests[1] and all(d.startswith("hmac-sha256:") for d in digests)
    keyed = PayloadDigests(load_audit_secret(gw.gateway.settings).digest_key)
    for body, value in zip((first, second), digests, strict=True):
        record = await gw.gateway.store.get_request(body["id"])
        assert value != digest(record.envelope)  # no plain SHA-256 of the envelope to confirm a guess against
        assert value == keyed(record.envelope, request_id=body["id"])  # the district can
        completed = one(found, "request.completed", body["id"])["result_digest"]
        assert completed == keyed(record.result["document"], request_id=body["id"])
