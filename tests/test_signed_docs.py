"""docs/api.md's signed request byte for byte: the client makes it, a hand-made HMAC agrees, the gateway takes it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import UTC, datetime
from pathlib import Path

from gateway.callers.keys import MAX_ACTIVE_KEYS, sealed_hmac_key
from gateway.callers.signing_client import SigningKey, sign
from signing.keys.passphrase import Passphrase
from tests.conftest import SAMPLE_PASSPHRASE

GUIDE = Path(__file__).parents[1] / "docs" / "api.md"
SECRET = b"sample-only-do-not-use-32-bytes!"
KEY = SigningKey("fangzhen-window.5f1c2a9b", "hmac-sha256", SECRET, "fangzhen-window")


def block(name: str) -> str:
    text = GUIDE.read_text(encoding="utf-8")
    found = re.search(rf"<!-- signed-example:{name} -->\n```\n(.*?)\n```", text, re.S)
    assert found, name
    return found.group(1)


def headers_of_request() -> dict[str, str]:
    head = block("request").split("\n\n")[0].splitlines()
    return dict(line.split(": ", 1) for line in head[1:])


def test_the_documented_request_is_what_the_client_sends_and_its_hmac_holds() -> None:
    body = block("body").encode("utf-8")
    headers = headers_of_request()
    assert int(headers["Content-Length"]) == len(body) == 234
    assert base64.b64decode(SECRET_B64 := "c2FtcGxlLW9ubHktZG8tbm90LXVzZS0zMi1ieXRlcyE=") == SECRET, SECRET_B64
    signed = sign(
        "POST",
        "http://" + headers["Host"] + "/v1/requests",
        body,
        KEY,
        created=datetime(2026, 1, 1, tzinfo=UTC),
        nonce="b6VQ1m0k9Xz3TqLwYc2N",
    )
    assert signed == {name: headers[name] for name in ("Content-Digest", "Signature-Input", "Signature")}
    base = block("base")
    assert base.splitlines()[-1] == '"@signature-params": ' + headers["Signature-Input"].removeprefix("sig1=")
    assert f'"content-digest": sha-256=:{base64.b64encode(hashlib.sha256(body).digest()).decode()}:' in base
    mac = hmac.new(SECRET, base.encode("ascii"), hashlib.sha256).digest()
    assert headers["Signature"] == f"sig1=:{base64.b64encode(mac).decode()}:"


async def test_the_gateway_accepts_the_documented_key_signing_now(gw) -> None:
    row = sealed_hmac_key("fangzhen-window", KEY.key_id, SECRET, Passphrase(SAMPLE_PASSPHRASE))
    assert await gw.gateway.store.add_caller_key(row, max_active=MAX_ACTIVE_KEYS)
    body = block("body").encode("utf-8")
    url = str(gw.client.make_url("/v1/requests"))
    response = await gw.client.post(
        "/v1/requests", data=body, headers={"Content-Type": "application/json", **sign("POST", url, body, KEY)}
    )
    assert response.status == 201, await response.text()
