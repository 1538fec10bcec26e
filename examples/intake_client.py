#!/usr/bin/env python3
"""An intake client for Onewindow, using only the Python standard library.

What every window, kiosk or outlet system needs, in one place:

* submit with an ``Idempotency-Key`` and retry with the SAME key on
  connection errors, 409 and 5xx, so a request is never done twice;
* follow ``Location`` while the request is pending or deferred;
* show every problem of a 422 at once (一次性告知);
* check the signature of a callback the gateway sends, and receive them.

Usage: intake_client.py URL API_KEY ENVELOPE.json | intake_client.py receive PORT CALLBACK_SECRET
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FINAL = {"completed", "rejected", "failed", "dead_letter"}


def call(
    method: str, url: str, api_key: str, body: dict | None = None, key: str | None = None
) -> tuple[int, dict, dict]:
    """One HTTP exchange; returns (status, JSON body, headers)."""
    data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {api_key}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Idempotency-Key", key)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}"), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}"), dict(error.headers)


def submit(base: str, api_key: str, envelope: dict, *, attempts: int = 8) -> dict:
    """Submit once, retrying safely; return the final request resource (or raise with the problem)."""
    key = str(uuid.uuid4())  # keep it with the application at the window until the request is final
    delay = 0.5
    for _ in range(attempts):
        try:
            status, body, headers = call("POST", f"{base}/v1/requests", api_key, envelope, key)
        except OSError:  # connection refused or reset: the gateway may be restarting
            status, body, headers = 0, {}, {}
        if status in (200, 201, 202):
            return follow(base, api_key, body, headers)
        if status in (0, 409, 500, 502, 503, 504):
            time.sleep(float(headers.get("Retry-After", delay)))
            delay = min(delay * 2, 10)
            continue
        raise RuntimeError(describe(body))
    raise RuntimeError("the gateway did not answer; try again later with the same application")


def follow(base: str, api_key: str, body: dict, headers: dict, *, timeout_s: float = 120) -> dict:
    """Poll the request while it is pending or deferred."""
    deadline = time.monotonic() + timeout_s
    while body.get("status") not in FINAL and time.monotonic() < deadline:
        time.sleep(float(headers.get("Retry-After", 1)))
        _, body, headers = call("GET", base + body["links"]["self"], api_key)
    return body


def describe(problem: dict) -> str:
    """A problem in words for the window clerk, every field problem on its own line."""
    lines = [f"{problem.get('title_zh', '')} {problem.get('detail_zh', '')} ({problem.get('type')})"]
    for error in problem.get("errors", []):
        lines.append(f"  - {error['path']}: {error['message_zh']}")
    return "\n".join(lines)


def callback_is_genuine(secret: str, body: bytes, signature_header: str, *, tolerance_s: int = 300) -> bool:
    """Check ``Onewindow-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``."""
    try:
        parts = dict(item.split("=", 1) for item in signature_header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(time.time() - timestamp) > tolerance_s:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))


def receive_callbacks(port: int, secret: str, *, host: str = "127.0.0.1") -> None:
    """Take the gateway's callbacks on ``http://HOST:PORT/...`` and print one line for each, checked.

    A genuine one is answered 204; one whose signature does not check out 401 (the gateway retries
    anything but a 2xx, so answer 2xx only once you have stored the result).
    """

    class Callback(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            genuine = callback_is_genuine(secret, body, self.headers.get("Onewindow-Signature", ""))
            self.send_response(204 if genuine else 401)
            self.end_headers()
            if not genuine:
                print(f"REFUSED a callback to {self.path}: its signature does not check out", flush=True)
                return
            resource = json.loads(body)
            print(f"genuine callback to {self.path}: request {resource['id']} is {resource['status']}", flush=True)

        def log_message(self, format: str, *args: object) -> None:  # quiet: one line per callback is enough
            pass

    server = ThreadingHTTPServer((host, port), Callback)
    print(f"receiving callbacks on http://{host}:{server.server_port}/ (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main(argv: list[str]) -> int:
    if len(argv) == 4 and argv[1] == "receive":
        receive_callbacks(int(argv[2]), argv[3])
        return 0
    if len(argv) != 4:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    base, api_key, path = argv[1].rstrip("/"), argv[2], argv[3]
    with open(path, encoding="utf-8") as handle:
        envelope = json.load(handle)
    try:
        result = submit(base, api_key, envelope)
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(
        json.dumps(
            {
                "id": result["id"],
                "status": result["status"],
                "seal": (result.get("result") or {}).get("seal", {}).get("number"),
                "reasons": result.get("reasons"),
            },
            ensure_ascii=False,
        )
    )
    return 0 if result["status"] in ("completed", "rejected") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
