"""Signed requests (RFC 9421, RFC 9530 Content-Digest): accepted when whole, each flaw refused by its own type."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.callers.signing_client import SigningKey, sign
from gateway.config import AuthenticationSettings
from gateway.intake.request_ids import new_ulid
from gateway.store import utcnow
from tests.helpers import PAYMENT_RECORD, WINDOW_KEY
from tests.signed import body_of, ed25519_key_for, hmac_key_for, post_signed


def problem(response_body: dict[str, Any]) -> str:
    return response_body["type"].removeprefix("/problems/")


async def refused(response: Any) -> str:
    assert response.status == 401, await response.text()
    return problem(await response.json())


def hand_made_signature(
    method: str, url: str, body: bytes, key: SigningKey, created: int, nonce: str, alg: str | None = None
) -> dict[str, str]:
    """An independent RFC 9421 implementation: the signature base of section 2.5 built by hand."""
    digest = "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"
    params = f'("@method" "@target-uri" "content-digest");created={created};nonce="{nonce}";keyid="{key.key_id}"'
    params += f';alg="{alg or key.alg}"'
    base = f'"@method": {method}\n"@target-uri": {url}\n"content-digest": {digest}\n"@signature-params": {params}'
    if key.alg == "hmac-sha256":
        assert isinstance(key.material, bytes)
        signature = hmac.new(key.material, base.encode(), hashlib.sha256).digest()
    else:
        assert isinstance(key.material, Ed25519PrivateKey)
        signature = key.material.sign(base.encode())
    return {
        "Content-Digest": digest,
        "Signature-Input": f"sig1={params}",
        "Signature": f"sig1=:{base64.b64encode(signature).decode()}:",
    }


@pytest.mark.parametrize("alg", ["hmac-sha256", "ed25519"])
async def test_a_request_signed_with_a_callers_key_is_accepted_on_both_stores(start_gateway, store_url, alg) -> None:
    gw = await start_gateway(store_url)
    make = hmac_key_for if alg == "hmac-sha256" else ed25519_key_for
    key = await make(gw.gateway.store)
    response = await post_signed(gw, PAYMENT_RECORD, key, **{"Idempotency-Key": "signed-0001"})
    assert response.status == 201, await response.text()
    assert (await response.json())["status"] == "completed"


@pytest.mark.parametrize("alg", ["hmac-sha256", "ed25519"])
async def test_a_request_signed_by_an_independent_implementation_is_accepted(gw, alg) -> None:
    key = await (hmac_key_for if alg == "hmac-sha256" else ed25519_key_for)(gw.gateway.store)
    body = body_of(PAYMENT_RECORD)
    url = str(gw.client.make_url("/v1/requests"))
    headers = hand_made_signature("POST", url, body, key, int(time.time()), secrets.token_hex(12))
    response = await gw.client.post("/v1/requests", data=body, headers={"Content-Type": "application/json", **headers})
    assert response.status == 201, await response.text()


def test_a_request_signed_by_the_gateways_client_verifies_by_hand() -> None:
    key = SigningKey("fangzhen-window.0badc0de", "hmac-sha256", b"k" * 32)
    body = b'{"item": "tax.payment-record"}'
    url = "http://127.0.0.1:8080/v1/requests"
    headers = sign("POST", url, body, key)
    params = headers["Signature-Input"].removeprefix("sig1=")
    assert params.startswith('("@method" "@target-uri" "content-digest");created=')
    assert f'keyid="{key.key_id}"' in params and 'alg="hmac-sha256"' in params
    assert re.search(r';nonce="[^"]{16,}"', params)
    digest = "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"
    assert headers["Content-Digest"] == digest
    base = f'"@method": POST\n"@target-uri": {url}\n"content-digest": {digest}\n"@signature-params": {params}'
    signature = base64.b64decode(headers["Signature"].removeprefix("sig1=:").removesuffix(":"))
    assert isinstance(key.material, bytes)
    assert hmac.compare_digest(signature, hmac.new(key.material, base.encode(), hashlib.sha256).digest())


async def test_a_signature_that_does_not_verify_is_refused_as_a_bad_signature(gw) -> None:
    key = await hmac_key_for(gw.gateway.store)
    forged = SigningKey(key.key_id, key.alg, b"x" * 32)
    assert await refused(await post_signed(gw, PAYMENT_RECORD, forged)) == "signature-invalid"
    unknown = SigningKey("fangzhen-window.unknown1", key.alg, key.material)
    assert await refused(await post_signed(gw, PAYMENT_RECORD, unknown)) == "signature-invalid"
    response = await post_signed(gw, PAYMENT_RECORD, key)  # the real key still works
    assert response.status == 201


async def test_a_request_signed_for_another_path_is_refused(gw) -> None:
    key = await hmac_key_for(gw.gateway.store)
    body = body_of(PAYMENT_RECORD)
    headers = sign("POST", str(gw.client.make_url("/v1/other")), body, key)
    response = await gw.client.post("/v1/requests", data=body, headers={"Content-Type": "application/json", **headers})
    assert await refused(response) == "signature-invalid"


async def test_a_body_other_than_the_signed_digest_describes_is_refused(gw) -> None:
    key = await hmac_key_for(gw.gateway.store)
    url = str(gw.client.make_url("/v1/requests"))
    headers = sign("POST", url, body_of(PAYMENT_RECORD), key)
    other = body_of({**PAYMENT_RECORD, "operator": "someone-else"})
    response = await gw.client.post("/v1/requests", data=other, headers={"Content-Type": "application/json", **headers})
    assert await refused(response) == "content-digest-mismatch"


@pytest.mark.parametrize(
    ("covered", "missing"),
    [
        (("@method", "@target-uri"), ["content-digest"]),
        (("@method", "content-digest"), ["@target-uri (or @path and @authority)"]),
        (("@target-uri", "content-digest"), ["@method"]),
        (("@method", "@path", "content-digest"), ["@target-uri (or @path and @authority)"]),
    ],
)
async def test_a_signature_covering_too_little_is_refused_naming_what_it_lacks(gw, covered, missing) -> None:
    key = await hmac_key_for(gw.gateway.store)
    body = body_of(PAYMENT_RECORD)
    headers = sign("POST", str(gw.client.make_url("/v1/requests")), body, key, covered=covered)
    if "content-digest" not in covered:
        headers["Content-Digest"] = "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"
    response = await gw.client.post("/v1/requests", data=body, headers={"Content-Type": "application/json", **headers})
    assert response.status == 401
    answer = await response.json()
    assert problem(answer) == "signature-components-missing" and answer["missing"] == missing


async def test_path_and_authority_may_stand_for_the_target_uri(gw) -> None:
    key = await hmac_key_for(gw.gateway.store)
    body = body_of(PAYMENT_RECORD)
    covered = ("@method", "@path", "@authority", "content-digest")
    headers = sign("POST", str(gw.client.make_url("/v1/requests")), body, key, covered=covered)
    response = await gw.client.post("/v1/requests", data=body, headers={"Content-Type": "application/json", **headers})
    assert response.status == 201, await response.text()


async def test_a_signature_without_a_nonce_is_refused_as_covering_too_little(gw) -> None:
    key = await hmac_key_for(gw.gateway.store)
    body = body_of(PAYMENT_RECORD)
    url = str(gw.client.make_url("/v1/requests"))
    headers = hand_made_signature("POST", url, body, key, int(time.time()), "n" * 16)
    headers["Signature-Input"] = headers["Signature-Input"].replace(';nonce="' + "n" * 16 + '"', "")
    response = await gw.client.post("/v1/requests", data=body, headers={"Content-Type": "application/json", **headers})
    answer = await response.json()
    assert problem(answer) == "signature-components-missing" and answer["missing"] == [";nonce"]


@pytest.mark.parametrize("offset_s", [-400, 400])
async def test_a_signature_created_outside_the_allowed_skew_is_refused(gw, offset_s) -> None:
    key = await hmac_key_for(gw.gateway.store)
    body = body_of(PAYMENT_RECORD)
    created = datetime.now(UTC) + timedelta(seconds=offset_s)
    headers = sign("POST", str(gw.client.make_url("/v1/requests")), body, key, created=created)
    response = await gw.client.post("/v1/requests", data=body, headers={"Content-Type": "application/json", **headers})
    assert await refused(response) == "signature-created-out-of-range"
    within = datetime.now(UTC) - timedelta(seconds=gw.gateway.settings.authentication.max_skew_seconds - 30)
    headers = sign("POST", str(gw.client.make_url("/v1/requests")), body, key, created=within)
    response = await gw.client.post("/v1/requests", data=body, headers={"Content-Type": "application/json", **headers})
    assert response.status == 201, await response.text()


async def test_a_replayed_request_is_refused_even_with_its_idempotency_key(gw) -> None:
    key = await hmac_key_for(gw.gateway.store)
    body = body_of(PAYMENT_RECORD)
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": "replay-0001",
        **sign("POST", str(gw.client.make_url("/v1/requests")), body, key),
    }
    assert (await gw.client.post("/v1/requests", data=body, headers=headers)).status == 201
    assert await refused(await gw.client.post("/v1/requests", data=body, headers=headers)) == "signature-replayed"


async def test_a_replay_to_a_second_instance_on_the_same_postgresql_is_refused(start_gateway, pg_url) -> None:
    first = await start_gateway(pg_url)
    second = await start_gateway(pg_url)
    key = await hmac_key_for(first.gateway.store)
    body = body_of(PAYMENT_RECORD)
    url = str(first.client.make_url("/v1/requests"))
    headers = {"Content-Type": "application/json", **sign("POST", url, body, key)}
    assert (await first.client.post("/v1/requests", data=body, headers=headers)).status == 201
    # The same bytes to the second instance, its Host as the first's (the target URI the caller signed).
    replay = {**headers, "Host": url.split("/")[2]}
    assert await refused(await second.client.post("/v1/requests", data=body, headers=replay)) == "signature-replayed"
    fresh = {"Content-Type": "application/json", **sign("POST", url, body, key), "Host": url.split("/")[2]}
    assert (await second.client.post("/v1/requests", data=body, headers=fresh)).status == 201


async def test_a_key_added_or_retired_takes_effect_at_the_next_request(gw) -> None:
    key = await hmac_key_for(gw.gateway.store)  # added while the gateway runs
    assert (await post_signed(gw, PAYMENT_RECORD, key)).status == 201
    successor = await ed25519_key_for(gw.gateway.store)
    assert not await gw.gateway.store.add_caller_key(
        (await gw.gateway.store.caller_key(key.key_id)).__class__(  # a third key in use is refused
            "fangzhen-window.third000", "fangzhen-window", "ed25519", "-", None, utcnow()
        ),
        max_active=2,
    )
    assert await gw.gateway.store.retire_caller_key("fangzhen-window", key.key_id, now=utcnow())
    assert await refused(await post_signed(gw, PAYMENT_RECORD, key)) == "signature-invalid"
    assert (await post_signed(gw, PAYMENT_RECORD, successor)).status == 201


async def test_a_signed_read_works_and_a_caller_reads_only_its_own(gw) -> None:
    key = await hmac_key_for(gw.gateway.store)
    created = await (await post_signed(gw, PAYMENT_RECORD, key)).json()
    path = f"/v1/requests/{created['id']}"
    headers = sign("GET", str(gw.client.make_url(path)), b"", key)
    response = await gw.client.get(path, headers=headers)
    assert response.status == 200 and (await response.json())["id"] == created["id"]
    missing = f"/v1/requests/{new_ulid()}"
    response = await gw.client.get(missing, headers=sign("GET", str(gw.client.make_url(missing)), b"", key))
    assert response.status == 404
    printout = f"{path}/document.pdf"
    response = await gw.client.get(printout, headers=sign("GET", str(gw.client.make_url(printout)), b"", key))
    assert response.status != 401, await response.text()


async def test_a_district_without_api_keys_refuses_a_bearer_key_and_accepts_a_signature(start_gateway) -> None:
    gw = await start_gateway(authentication=AuthenticationSettings(allow_api_key=False))
    response = await gw.post(PAYMENT_RECORD, key=WINDOW_KEY)
    assert response.status == 401
    answer = await response.json()
    assert problem(answer) == "unauthenticated" and "does not accept API keys" in answer["detail"]
    key = await hmac_key_for(gw.gateway.store)
    assert (await post_signed(gw, PAYMENT_RECORD, key)).status == 201


async def test_a_caller_whose_methods_exclude_signing_is_refused_though_its_signature_holds(start_gateway) -> None:
    gw = await start_gateway()
    key = await hmac_key_for(gw.gateway.store)
    window = gw.gateway.callers["fangzhen-window"]
    gw.gateway.callers["fangzhen-window"] = type(window)(**{**window.__dict__, "methods": ("api_key",)})
    answer = await (await post_signed(gw, PAYMENT_RECORD, key)).json()
    assert answer["status"] == 401 and problem(answer) == "unauthenticated"
    assert "may not authenticate" in answer["detail"]


async def test_every_refusal_is_audited_without_personal_data_and_counted_by_reason(gw) -> None:
    key = await hmac_key_for(gw.gateway.store)
    body = body_of(PAYMENT_RECORD)
    headers = {"Content-Type": "application/json", **sign("POST", str(gw.client.make_url("/v1/requests")), body, key)}
    assert (await gw.client.post("/v1/requests", data=body, headers=headers)).status == 201
    assert (await gw.client.post("/v1/requests", data=body, headers=headers)).status == 401  # replayed
    assert (await gw.post(PAYMENT_RECORD, key="not-a-key")).status == 401
    rows = [r async for chunk in gw.gateway.audit.store.entries() for r in chunk]
    refusals = [json.loads(r[1]) for r in rows if r[3] == "authentication.refused"]
    text = json.dumps(refusals, ensure_ascii=False)
    assert len(refusals) == 2 and "张伟" not in text and "370303199001011239" not in text and "not-a-key" not in text
    fields = [entry.get("fields", entry) for entry in refusals]
    assert {f.get("reason") for f in fields} == {"signature-replayed", "unauthenticated"}, fields
    assert any(f.get("caller") == "fangzhen-window" and f.get("key_id") == key.key_id for f in fields), fields
    metrics = await (await gw.client.get("/metrics")).text()
    assert 'onewindow_authentication_refusals_total{reason="signature-replayed"} 1.0' in metrics
    assert 'onewindow_authentication_refusals_total{reason="unauthenticated"} 1.0' in metrics


async def test_a_nonce_too_short_to_be_random_is_refused(gw) -> None:
    key = await hmac_key_for(gw.gateway.store)
    body = body_of(PAYMENT_RECORD)
    url = str(gw.client.make_url("/v1/requests"))
    headers = hand_made_signature("POST", url, body, key, int(time.time()), "1234567")
    response = await gw.client.post("/v1/requests", data=body, headers={"Content-Type": "application/json", **headers})
    assert await refused(response) == "signature-invalid"


async def test_a_signature_naming_another_algorithm_than_its_keys_is_refused(gw) -> None:
    key = await hmac_key_for(gw.gateway.store)
    body = body_of(PAYMENT_RECORD)
    url = str(gw.client.make_url("/v1/requests"))
    headers = hand_made_signature("POST", url, body, key, int(time.time()), secrets.token_hex(12), alg="ed25519")
    response = await gw.client.post("/v1/requests", data=body, headers={"Content-Type": "application/json", **headers})
    answer = await response.json()
    assert problem(answer) == "signature-invalid" and "is not the algorithm of key" in answer["detail"]


async def test_a_key_of_a_caller_no_longer_configured_is_refused(gw) -> None:
    key = await hmac_key_for(gw.gateway.store, caller="removed-kiosk")
    assert await refused(await post_signed(gw, PAYMENT_RECORD, key)) == "signature-invalid"


async def test_a_signature_may_cover_the_idempotency_key_and_then_it_cannot_be_changed(gw) -> None:
    key = await hmac_key_for(gw.gateway.store)
    body = body_of(PAYMENT_RECORD)
    covered = ("@method", "@target-uri", "content-digest", "idempotency-key")
    url = str(gw.client.make_url("/v1/requests"))
    headers = sign("POST", url, body, key, covered=covered, headers={"Idempotency-Key": "covered-0001"})
    changed = {**headers, "Idempotency-Key": "covered-0002", "Content-Type": "application/json"}
    assert await refused(await gw.client.post("/v1/requests", data=body, headers=changed)) == "signature-invalid"
    response = await gw.client.post("/v1/requests", data=body, headers={**headers, "Content-Type": "application/json"})
    assert response.status == 201, await response.text()
