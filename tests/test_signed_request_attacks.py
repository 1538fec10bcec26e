"""Signed requests under attack: parser disagreements, what a signature really covers, odd input.

Each test sends what someone on the extranet, or a caller probing the
gateway, could send, and proves the gateway refuses it with a 401 problem
(never a 500, never an acceptance).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from multidict import CIMultiDict

from gateway.callers.signing_client import SigningKey, sign
from gateway.config import AuthenticationSettings, load_settings
from gateway.errors import ConfigError
from tests.helpers import PAYMENT_RECORD
from tests.signed import body_of, ed25519_key_for, hmac_key_for

JSON = {"Content-Type": "application/json"}


def sha256_digest(body: bytes) -> str:
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def hmac_signed(key: SigningKey, url: str, digest: str, secret: bytes | None = None) -> dict[str, str]:
    """A signature over ``@method`` POST, ``@target-uri`` and the Content-Digest value ``digest``, made by hand."""
    params = f'("@method" "@target-uri" "content-digest");created={int(time.time())};nonce="{secrets.token_hex(12)}"'
    params += f';keyid="{key.key_id}"'
    base = f'"@method": POST\n"@target-uri": {url}\n"content-digest": {digest}\n"@signature-params": {params}'
    material = secret if secret is not None else key.material
    assert isinstance(material, bytes)
    signature = base64.b64encode(hmac.new(material, base.encode(), hashlib.sha256).digest()).decode()
    return {"Signature-Input": f"sig1={params}", "Signature": f"sig1=:{signature}:"}


async def problem_of(response: Any) -> str:
    assert response.status == 401, await response.text()
    return str((await response.json())["type"]).removeprefix("/problems/")


async def raw_exchange(gw: Any, head: str, body: bytes) -> bytes:
    """Send bytes no HTTP client library would (an odd Host); the status line of the answer."""
    server = gw.client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(head.encode("utf-8") + b"\r\n" + body)
        await writer.drain()
        return (await asyncio.wait_for(reader.readuntil(b"\r\n"), 10)).strip()
    finally:
        writer.close()


async def test_a_query_added_to_a_request_signed_over_path_and_authority_is_refused(gw) -> None:
    key = await hmac_key_for(gw.gateway.store)
    body = body_of(PAYMENT_RECORD)
    url = str(gw.client.make_url("/v1/requests"))
    path_form = ("@method", "@path", "@authority", "content-digest")
    headers = sign("POST", url, body, key, covered=path_form)
    response = await gw.client.post("/v1/requests?office=370303105000", data=body, headers={**JSON, **headers})
    assert await problem_of(response) == "signature-components-missing"
    assert (await response.json())["missing"] == ["@query (the request has a query string)"]
    covered = sign("POST", url + "?office=370303105000", body, key, covered=(*path_form, "@query"))
    response = await gw.client.post("/v1/requests?office=370303105000", data=body, headers={**JSON, **covered})
    assert response.status == 201, await response.text()
    in_uri = sign("POST", url + "?office=370303105000", body, key)  # @target-uri carries the query
    response = await gw.client.post("/v1/requests?office=370303105099", data=body, headers={**JSON, **in_uri})
    assert await problem_of(response) == "signature-invalid"


async def test_a_signature_past_its_own_expires_is_refused_though_created_is_recent(gw) -> None:
    key = await hmac_key_for(gw.gateway.store)
    body = body_of(PAYMENT_RECORD)
    url = str(gw.client.make_url("/v1/requests"))
    now = datetime.now(UTC)
    lapsed = sign("POST", url, body, key, created=now - timedelta(seconds=40), expires=now - timedelta(seconds=10))
    response = await gw.client.post("/v1/requests", data=body, headers={**JSON, **lapsed})
    assert await problem_of(response) == "signature-created-out-of-range"
    assert "expires" in (await response.json())["detail"]
    alive = sign("POST", url, body, key, created=now, expires=now + timedelta(seconds=30))
    response = await gw.client.post("/v1/requests", data=body, headers={**JSON, **alive})
    assert response.status == 201, await response.text()


async def test_a_second_content_digest_line_that_does_not_match_the_body_is_refused(gw) -> None:
    key = await hmac_key_for(gw.gateway.store)
    body = body_of(PAYMENT_RECORD)
    url = str(gw.client.make_url("/v1/requests"))
    wrong = "sha-512=:" + base64.b64encode(hashlib.sha512(b"another body").digest()).decode() + ":"
    signed = hmac_signed(key, url, f"{sha256_digest(body)}, {wrong}")  # the signature covers both lines, combined
    lines = CIMultiDict([*JSON.items(), ("Content-Digest", sha256_digest(body)), ("Content-Digest", wrong)])
    lines.update(signed)
    response = await gw.client.post("/v1/requests", data=body, headers=lines)
    assert await problem_of(response) == "content-digest-mismatch"
    sha512 = "sha-512=:" + base64.b64encode(hashlib.sha512(body).digest()).decode() + ":"
    both = CIMultiDict([*JSON.items(), ("Content-Digest", sha256_digest(body)), ("Content-Digest", sha512)])
    both.update(hmac_signed(key, url, f"{sha256_digest(body)}, {sha512}"))
    response = await gw.client.post("/v1/requests", data=body, headers=both)
    assert response.status == 201, await response.text()


async def test_a_host_header_that_is_no_authority_is_refused_not_a_server_error(gw) -> None:
    key = await hmac_key_for(gw.gateway.store)
    body = body_of(PAYMENT_RECORD)
    for host in ("h:99999999", "é.example"):
        headers = sign("POST", str(gw.client.make_url("/v1/requests")), body, key)
        fields = {"Host": host, **JSON, "Content-Length": str(len(body)), **headers}
        head = "POST /v1/requests HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items())
        assert await raw_exchange(gw, head, body) == b"HTTP/1.1 401 Unauthorized", host


async def test_an_hmac_made_with_an_ed25519_public_key_as_its_secret_is_refused(gw) -> None:
    key = await ed25519_key_for(gw.gateway.store)
    body = body_of(PAYMENT_RECORD)
    url = str(gw.client.make_url("/v1/requests"))
    stored = await gw.gateway.store.caller_key(key.key_id)
    assert stored is not None and stored.public_key is not None
    public = serialization.load_pem_public_key(stored.public_key.encode("ascii"))
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    for secret in (raw, stored.public_key.encode("ascii")):  # what the public key is known as
        headers = {**JSON, "Content-Digest": sha256_digest(body), **hmac_signed(key, url, sha256_digest(body), secret)}
        assert await problem_of(await gw.client.post("/v1/requests", data=body, headers=headers)) == "signature-invalid"


async def test_a_valid_signature_beside_a_second_one_or_a_duplicate_label_is_refused(gw) -> None:
    key = await hmac_key_for(gw.gateway.store)
    body = body_of(PAYMENT_RECORD)
    url = str(gw.client.make_url("/v1/requests"))
    good = sign("POST", url, body, key)
    weak = sign("POST", url, body, key, covered=("@method", "content-digest", "@path", "@authority"))
    other = {name: value.replace("sig1=", "sig2=", 1) for name, value in weak.items() if name.startswith("Signature")}
    for second in (other, {k: v for k, v in weak.items() if k.startswith("Signature")}):
        lines = CIMultiDict([*JSON.items(), ("Content-Digest", good["Content-Digest"])])
        for name in ("Signature-Input", "Signature"):
            lines.add(name, good[name])
            lines.add(name, second[name])
        assert await problem_of(await gw.client.post("/v1/requests", data=body, headers=lines)) == "signature-invalid"
    response = await gw.client.post("/v1/requests", data=body, headers={**JSON, **good})
    assert response.status == 201, await response.text()


async def test_a_request_signed_for_another_gateway_is_refused_though_its_host_header_matches(start_gateway) -> None:
    gw = await start_gateway(public_url="https://zwfw.zhangdian.example.cn")
    key = await hmac_key_for(gw.gateway.store)
    body = body_of(PAYMENT_RECORD)
    elsewhere = "http://staging.zhangdian.example.cn:8080/v1/requests"  # a copy restored from this store's backup
    headers = {**JSON, "Host": "staging.zhangdian.example.cn:8080", **sign("POST", elsewhere, body, key)}
    response = await gw.client.post("/v1/requests", data=body, headers=headers)
    assert await problem_of(response) == "signature-invalid"
    assert "not this gateway" in (await response.json())["detail"]
    public_name = "http://zwfw.zhangdian.example.cn/v1/requests"  # through a proxy ending TLS: each default port
    headers = {**JSON, "Host": "zwfw.zhangdian.example.cn", **sign("POST", public_name, body, key)}
    assert (await gw.client.post("/v1/requests", data=body, headers=headers)).status == 201
    arrived_at = str(gw.client.make_url("/v1/requests"))  # the address the request reached
    response = await gw.client.post("/v1/requests", data=body, headers={**JSON, **sign("POST", arrived_at, body, key)})
    assert response.status == 201, await response.text()


async def test_a_host_the_district_lists_in_authentication_authorities_is_accepted(start_gateway) -> None:
    gw = await start_gateway(authentication=AuthenticationSettings(authorities=("gw.extranet.example:8443",)))
    key = await hmac_key_for(gw.gateway.store)
    body = body_of(PAYMENT_RECORD)
    url = "http://gw.extranet.example:8443/v1/requests"
    headers = {**JSON, "Host": "gw.extranet.example:8443", **sign("POST", url, body, key)}
    assert (await gw.client.post("/v1/requests", data=body, headers=headers)).status == 201
    other = "http://gw.extranet.example:9443/v1/requests"
    headers = {**JSON, "Host": "gw.extranet.example:9443", **sign("POST", other, body, key)}
    assert await problem_of(await gw.client.post("/v1/requests", data=body, headers=headers)) == "signature-invalid"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"gw.example"', r"authentication\.authorities: a list of host\[:port\] strings"),
        ('["https://gw.example"]', r"authentication\.authorities\[0\]: a host or host:port, not 'https://gw.example'"),
        ('["gw.example", "gw.example:99999"]', r"authentication\.authorities\[1\]: a host or host:port"),
        ('["user@gw.example"]', r"authentication\.authorities\[0\]: a host or host:port"),
        ('[""]', r"authentication\.authorities\[0\]: a host or host:port"),
    ],
)
def test_authentication_authorities_take_hosts_and_ports_only(tmp_path, value, message) -> None:
    path = tmp_path / "district.toml"
    path.write_text(f"[authentication]\nauthorities = {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_settings(path, environ={})
    path.write_text('[authentication]\nauthorities = ["gw.extranet.example:8443", "[::1]:8080"]\n', encoding="utf-8")
    assert load_settings(path, environ={}).authentication.authorities == ("gw.extranet.example:8443", "[::1]:8080")


async def test_an_id_number_sent_in_the_signature_headers_reaches_no_answer_audit_entry_or_log(gw, capsys) -> None:
    key = await hmac_key_for(gw.gateway.store)
    body = body_of(PAYMENT_RECORD)
    url = str(gw.client.make_url("/v1/requests"))
    id_number = "370303199001011239"
    signed = sign("POST", url, body, key)
    params = signed["Signature-Input"].removeprefix("sig1=")
    declared = [
        params.replace(key.key_id, id_number + "x" * 300),  # an unknown keyid, quoted back
        params.replace('alg="hmac-sha256"', f'alg="{id_number}"'),  # a wrong alg, quoted back
        params.replace('"content-digest")', f'"content-digest" "x-{id_number}")'),  # a field not sent, logged
    ]
    answers = []
    for signature_input in declared:
        headers = {**JSON, **signed, "Signature-Input": f"sig1={signature_input}"}
        response = await gw.client.post("/v1/requests", data=body, headers=headers)
        assert response.status == 401
        answers.append(await response.text())
    rows = [r async for chunk in gw.gateway.audit.store.entries() for r in chunk]
    audited = [str(r[1]) for r in rows if r[3] == "authentication.refused"]
    assert len(audited) == 3
    logged = capsys.readouterr().out
    assert "signature.refused" in logged
    for sink in (*answers, *audited, logged):
        assert id_number not in sink, sink[:400]
    assert all(len(answer) < 1500 for answer in answers)


async def test_a_nonce_outlives_the_last_moment_its_signature_is_accepted_on_both_stores(
    start_gateway, store_url
) -> None:
    gw = await start_gateway(store_url)
    key = await hmac_key_for(gw.gateway.store)
    body = body_of(PAYMENT_RECORD)
    skew = gw.gateway.settings.authentication.max_skew_seconds
    created = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=skew - 2)  # the signer's clock is ahead
    nonce = secrets.token_hex(12)
    headers = sign("POST", str(gw.client.make_url("/v1/requests")), body, key, created=created, nonce=nonce)
    response = await gw.client.post("/v1/requests", data=body, headers={**JSON, **headers})
    assert response.status == 201, await response.text()
    # A replay checked at the last instant it is accepted (created + skew), however long checking it took:
    checked_at = created + timedelta(seconds=skew) + timedelta(seconds=59)
    later = checked_at + timedelta(hours=1)
    assert not await gw.gateway.store.remember_nonce(key.key_id, nonce, now=checked_at, expires_at=later)


async def test_a_chunked_body_is_digested_as_the_bytes_it_carries_and_one_over_the_limit_is_never_read_whole(
    start_gateway,
) -> None:
    gw = await start_gateway(max_body_bytes=4096)
    key = await hmac_key_for(gw.gateway.store)
    body = body_of(PAYMENT_RECORD)
    url = str(gw.client.make_url("/v1/requests"))

    async def chunks(data: bytes, size: int = 37) -> Any:
        for start in range(0, len(data), size):
            yield data[start : start + size]

    headers = {**JSON, **sign("POST", url, body, key)}
    response = await gw.client.post("/v1/requests", data=chunks(body), headers=headers)
    assert response.status == 201, await response.text()
    large = body_of({**PAYMENT_RECORD, "materials": {"note": "x" * 8192}})
    response = await gw.client.post(
        "/v1/requests", data=chunks(large, 1024), headers={**JSON, **sign("POST", url, large, key)}
    )
    assert response.status == 413, await response.text()
