"""The audit log of a running gateway: every outcome's story, no personal data, proofs for sealed results."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import pytest

from gateway.audit.proofs import prove_inclusion
from gateway.config.audit import AuditSettings
from gateway.observability.events import PayloadDigests
from signing.audit.checkpoint import SignedCheckpoint, public_key_pem
from signing.audit.document_proof import audit_checker, check_audit_proof
from signing.audit.entry import document_digest
from signing.audit.proof_files import build_inclusion_proof_file
from signing.verify.verifier import verify_document
from tests.audit_helpers import cli, gateway_config, other_signer
from tests.helpers import CLEARANCE as BASE_CLEARANCE
from tests.helpers import INVOICE_MATERIALS, PERSON, TOWN
from tests.helpers import PAYMENT_RECORD as BASE_PAYMENT_RECORD

PERSON_WITH_PHONE = {**PERSON, "phone": "13912345678"}
PAYMENT_RECORD = {**BASE_PAYMENT_RECORD, "applicant": PERSON_WITH_PHONE}
CLEARANCE = {**BASE_CLEARANCE, "office": TOWN}
REJECTED = {
    **CLEARANCE,
    "applicant": {"kind": "organisation", "id_number": "91370303MA3NQ2LU8C", "name": "淄博马尚众诚机械加工厂"},
}
INVOICE = {**PAYMENT_RECORD, "item": "tax.individual-invoice", "materials": INVOICE_MATERIALS}


async def story(capsys: pytest.CaptureFixture[str], config: str, request_id: str) -> list[dict[str, Any]]:
    code, out = await cli(capsys, "audit", "show", request_id, "--config", config, "--json")
    assert code == 0, out
    told = json.loads(out)
    assert told["ok"]
    return told["entries"]


def kinds(entries: list[dict[str, Any]]) -> list[str]:
    return [e["kind"] for e in entries]


def in_order(expected: list[str], actual: list[str]) -> bool:
    """``expected`` is a subsequence of ``actual``."""
    rest = iter(actual)
    return all(kind in rest for kind in expected)


def one(entries: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return next(e["fields"] for e in entries if e["kind"] == kind)


def short_reviews(spec: Any) -> Any:
    return dataclasses.replace(spec, options={**spec.options, "decision_delay_s": 0.2})


async def settled(gw: Any, request_id: str, status: str) -> dict[str, Any]:
    for _ in range(200):
        body = await (await gw.get(f"/v1/requests/{request_id}")).json()
        if body["status"] == status:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"{request_id} is {body['status']}, not {status}")


async def test_every_outcome_tells_its_whole_story_in_audit_show(
    start_gateway, store_url, district, tmp_path, capsys
) -> None:
    gw = await start_gateway(
        store_url,
        agency_changes={"tax": {"max_attempts": 2, "backoff_initial_s": 0.01, "breaker_failures": 100}},
        sandbox_factories={"property": short_reviews},
    )
    config = gateway_config(tmp_path, store_url, district)
    tax = gw.sandboxes["tax"]

    completed = await (await gw.post(PAYMENT_RECORD)).json()
    rejected = await (await gw.post(REJECTED)).json()
    invalid = await (await gw.post({**PAYMENT_RECORD, "materials": {}})).json()
    unknown = await (await gw.post({**PAYMENT_RECORD, "item": "tax.no-such-item"})).json()
    denied = await (await gw.post({**PAYMENT_RECORD, "office": "370303007000"})).json()
    mortgage = await (await gw.post(_mortgage_envelope(gw))).json()
    tax.knobs.update({"maintenance": True})
    deferred = await (await gw.post(CLEARANCE)).json()
    failed = await (await gw.post(INVOICE)).json()
    tax.knobs.update({"maintenance": False})
    await settled(gw, deferred["id"], "completed")
    await settled(gw, mortgage["id"], "completed")
    assert (completed["status"], rejected["status"], deferred["status"]) == ("completed", "rejected", "deferred")
    assert (invalid["status"], unknown["status"], denied["status"], failed["status"]) == (422, 404, 403, 503)

    entries = await story(capsys, config, completed["id"])
    assert kinds(entries) == [
        "request.accepted",
        "agency.attempt",
        "result.sealed",
        "request.completed",
        "response.sent",
    ]
    accepted = one(entries, "request.accepted")
    assert accepted | {"request_digest": None} == {
        "caller": "fangzhen-window",
        "office": TOWN,
        "operator": "fz-window-01",
        "channel": "window",
        "item": "tax.payment-record",
        "request_digest": None,
        "pledge": False,
    }
    attempt = one(entries, "agency.attempt")
    assert attempt["agency"] == "tax" and attempt["outcome"] == "ok" and attempt["latency_ms"] >= 0
    sealed = one(entries, "result.sealed")
    assert sealed["seal_number"] == completed["result"]["seal"]["number"]
    assert sealed["document_digest"] == document_digest(completed["result"])
    assert one(entries, "response.sent")["status"] == 201

    entries = await story(capsys, config, rejected["id"])
    assert kinds(entries) == ["request.accepted", "agency.attempt", "request.rejected", "response.sent"]
    assert one(entries, "request.rejected")["reasons"] == ["tax.2002"]

    entries = await story(capsys, config, invalid["request_id"])
    assert kinds(entries) == ["validation.failed", "response.sent"]
    assert one(entries, "response.sent")["status"] == 422
    assert kinds(await story(capsys, config, unknown["request_id"])) == ["validation.failed", "response.sent"]

    entries = await story(capsys, config, denied["request_id"])
    assert kinds(entries) == ["authorisation.denied", "response.sent"]
    assert one(entries, "response.sent")["status"] == 403

    entries = await story(capsys, config, deferred["id"])
    expected = ["request.accepted", "agency.attempt", "agency.attempt", "request.deferred", "response.sent"]
    expected += ["outbox.redeliver", "agency.attempt", "result.sealed", "request.completed"]
    assert in_order(expected, kinds(entries)), kinds(entries)
    assert entries[1]["fields"]["will_retry"] is True  # the retry inside one delivery

    entries = await story(capsys, config, failed["request_id"])
    assert in_order(["request.accepted", "agency.attempt", "request.failed", "response.sent"], kinds(entries))
    assert one(entries, "response.sent")["status"] == 503

    entries = await story(capsys, config, mortgage["id"])
    expected = ["request.accepted", "agency.attempt", "request.pending", "response.sent", "agency.poll"]
    assert in_order([*expected, "result.sealed", "request.completed"], kinds(entries)), kinds(entries)

    await gw.gateway.audit.checkpoint()
    code, out = await cli(capsys, "audit", "verify", "--config", config)
    assert code == 0, out
    assert "VALID" in out


def _mortgage_envelope(gw: Any) -> dict[str, Any]:
    from gateway.testing import envelope_for

    return envelope_for(gw.gateway.registry.catalogue.get("property.mortgage-registration"))


async def test_no_entry_holds_the_applicants_personal_data(gw) -> None:
    assert (await gw.post(PAYMENT_RECORD)).status == 201
    assert (await gw.post({**PAYMENT_RECORD, "materials": {"period_start": "2025-13-01"}})).status == 422
    rows = [r async for chunk in gw.gateway.audit.store.entries() for r in chunk]
    assert {"configuration.loaded", "request.accepted", "result.sealed", "response.sent"} <= {r[3] for r in rows}
    text = b"".join(r[1] for r in rows).decode("utf-8")
    for personal in (PERSON["name"], PERSON["id_number"], PERSON_WITH_PHONE["phone"], "1990-01-01", "19900101"):
        assert personal not in text


async def test_a_sealed_result_carries_its_audit_proof_once_a_checkpoint_covers_it(start_gateway, capsys, tmp_path):
    gw = await start_gateway()
    body = await (await gw.post(PAYMENT_RECORD)).json()
    path = f"/v1/requests/{body['id']}/audit-proof"
    waiting = await gw.get(path)
    assert waiting.status == 202 and int(waiting.headers["Retry-After"]) >= 1
    assert (await waiting.json())["status"] == "awaiting_checkpoint"
    await gw.gateway.audit.checkpoint()
    answer = await gw.get(path)
    assert answer.status == 200
    document = await answer.json()
    proof = document["seal"]["audit_proof"]
    key = gw.gateway.audit.signer.public_key()
    verdict = check_audit_proof(document, proof, key)
    assert verdict.ok and verdict.entry.kind == "result.sealed", verdict.reason
    trust = gw.gateway.sealer.trust_view()
    report = verify_document(document, trust, audit_checker=audit_checker(key))
    assert report.passed and any(c.name == "audit_proof" and c.passed for c in report.checks)

    altered = {**document, "issued_at": "2020-01-01T00:00:00+00:00"}
    assert check_audit_proof(altered, proof, key).problem == "document-mismatch"
    assert check_audit_proof(document, proof, other_signer().public_key()).problem == "key-mismatch"
    other = await (await gw.post(PAYMENT_RECORD)).json()
    assert check_audit_proof(other["result"] | {"seal": document["seal"]}, proof, key).problem == "document-mismatch"
    wrong_entry = await _proof_of_entry(gw, 0)  # configuration.loaded
    assert check_audit_proof(document, wrong_entry, key).problem == "wrong-entry"

    (tmp_path / "p.json").write_text(json.dumps(proof), encoding="utf-8")
    code, out = await cli(capsys, "audit", "check-proof", str(tmp_path / "p.json"))
    assert code == 0 and out.startswith("VALID inclusion")

    # `onewindow verify --audit-key` checks the proof a sealed document carries, offline.
    (tmp_path / "bundle.json").write_bytes(await (await gw.client.get("/v1/trust-bundle")).read())
    (tmp_path / "audit-key.pem").write_text(public_key_pem(key), encoding="ascii")
    for name, doc, expected in (
        ("doc.json", document, 0),
        ("forged.json", {**document, "seal": {**document["seal"], "audit_proof": wrong_entry}}, 1),
    ):
        (tmp_path / name).write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        code, out = await cli(
            capsys,
            "verify",
            str(tmp_path / name),
            "--trust",
            str(tmp_path / "bundle.json"),
            "--audit-key",
            str(tmp_path / "audit-key.pem"),
            "--root-fingerprint",
            trust.root_fingerprint,  # the gateway's own district root, as the bureau publishes it
            "--json",
        )
        checks = {c["name"]: c["passed"] for c in json.loads(out)["checks"]}
        assert code == expected and checks["audit_proof"] is (expected == 0)

    rejected = await (await gw.post(REJECTED)).json()
    assert (await gw.get(f"/v1/requests/{rejected['id']}/audit-proof")).status == 409
    assert (await gw.get("/v1/requests/01J0000000000000000000000X/audit-proof")).status == 404


async def _proof_of_entry(gw: Any, seq: int) -> dict[str, Any]:
    store = gw.gateway.audit.store
    latest = await store.latest_checkpoint()
    row = await store.entry(seq)
    path = await prove_inclusion(store, seq, latest.tree_size)
    return build_inclusion_proof_file(SignedCheckpoint.from_dict(latest.signed), seq, path, entry=row[1])


async def test_raw_payloads_kept_encrypted_prove_exactly_what_was_sent(
    start_gateway, district, tmp_path, capsys, monkeypatch
) -> None:
    key_file = tmp_path / "payload.key"
    key_file.write_text(bytes(range(32)).hex(), encoding="ascii")
    url = f"sqlite:///{tmp_path}/gw.db"
    gw = await start_gateway(url, audit=AuditSettings(payload_key_file=str(key_file)))
    digested: list[Any] = []
    real = PayloadDigests.__call__

    def counted(self: PayloadDigests, payload: Any, *, request_id: str | None) -> str | None:
        digested.append(payload)
        return real(self, payload, request_id=request_id)

    monkeypatch.setattr(PayloadDigests, "__call__", counted)
    body = await (await gw.post(PAYMENT_RECORD)).json()
    # the sealed result's digest, taken once: the event's field and its payload's commitment are the same
    assert sum(1 for payload in digested if payload == body["result"]) == 1
    entries = [r async for chunk in gw.gateway.audit.store.entries() for r in chunk]
    assert PERSON["name"].encode() not in b"".join(r[1] + (r[6] or b"") for r in entries)
    config = gateway_config(tmp_path, url, district)
    code, out = await cli(
        capsys, "audit", "show", body["id"], "--config", config, "--json", "--payload-key", str(key_file)
    )
    assert code == 0, out
    told = {e["kind"]: e for e in json.loads(out)["entries"]}
    sent = told["request.accepted"]["payload_plaintext"]
    assert sent["applicant"]["name"] == PERSON["name"] and sent["materials"] == PAYMENT_RECORD["materials"]
    assert told["request.accepted"]["payload"]["digest"] == told["request.accepted"]["fields"]["request_digest"]
    assert told["request.completed"]["payload_plaintext"] == body["result"]
    assert told["request.completed"]["payload"]["digest"] == told["request.completed"]["fields"]["result_digest"]
    await gw.gateway.audit.checkpoint()
    assert (await cli(capsys, "audit", "verify", "--config", config))[0] == 0


async def test_configuration_loaded_opens_the_story_of_every_gateway_start(gw) -> None:
    rows = [r async for chunk in gw.gateway.audit.store.entries() for r in chunk]
    first = json.loads(rows[0][1])
    assert first["kind"] == "configuration.loaded" and first["fields"]["items"] > 30
    assert first["seq"] == 0 and "tax" in first["fields"]["agencies"]


async def test_a_gateway_without_the_district_secret_does_not_start_and_the_sample_district_gets_one(
    start_gateway, tmp_path
) -> None:
    from gateway.errors import AuditSetupError
    from tests.conftest import make_district

    pki, passphrase = make_district(tmp_path / "real")
    (pki / "audit" / "audit-secret.key").unlink()
    with pytest.raises(AuditSetupError, match=r"no audit secret at .*onewindow audit init-secret"):
        await start_gateway(pki_dir=str(pki), pki_passphrase_file=str(passphrase))
    gw = await start_gateway(pki_dir=str(pki), pki_passphrase_file=str(passphrase), pki_create_sample=True)
    secret = pki / "audit" / "audit-secret.key"
    assert secret.stat().st_mode & 0o777 == 0o600 and gw.gateway.audit.sound
