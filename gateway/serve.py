"""Serving the gateway over HTTP until told to stop.

On SIGTERM or SIGINT the listener closes first (no new requests), requests
in flight get up to the shutdown grace period to finish, and only then are
the store and sessions closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from typing import TextIO

from aiohttp import web

from gateway.api.app import create_app
from gateway.config import Settings
from gateway.core import Gateway
from gateway.logs import get_logger

SAMPLE_CALLER_KEY = "sample-fangzhen-window-key"
SAMPLE_ENVELOPE = {
    "item": "tax.payment-record",
    "applicant": {"kind": "person", "id_number": "370303199001011239", "name": "张伟"},
    "materials": {"period_start": "2025-01-01", "period_end": "2025-12-31"},
    "office": "370303105000",
    "operator": "fz-window-01",
    "channel": "window",
}


def sample_call(url: str) -> str:
    """A one-line curl command that submits a sample request (sample configuration only)."""
    body = json.dumps(SAMPLE_ENVELOPE, ensure_ascii=False, separators=(",", ":"))
    return (
        f"curl -sS -X POST {url}/v1/requests -H 'Authorization: Bearer {SAMPLE_CALLER_KEY}' "
        f"-H 'Content-Type: application/json' -d '{body}'"
    )


async def serve(settings: Settings, *, out: TextIO = sys.stdout, ready: asyncio.Event | None = None) -> None:
    """Run the gateway until SIGTERM/SIGINT."""
    shutdown_grace_s = settings.outbox.shutdown_grace_s
    log = get_logger(component="serve")
    gateway = Gateway(settings)
    await gateway.start()
    app = create_app(gateway)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_grace_s, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, reuse_address=True)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        await gateway.stop()
        raise SystemExit(f"onewindow: cannot listen on {settings.host}:{settings.port}: {exc.strerror}") from None
    url = f"http://{settings.host}:{runner.addresses[0][1]}"
    log.info(
        "gateway.serving",
        url=url,
        store=gateway.store.backend,
        items=len(gateway.registry.catalogue),
        configuration=settings.source,
    )
    print(
        f"Onewindow is serving on {url} ({len(gateway.registry.catalogue)} items, "
        f"{gateway.store.backend} store, {settings.source}).",
        file=out,
    )
    if settings.sandboxes_start:
        print("Agency sandboxes: " + ", ".join(f"{s.spec.agency}={s.url}" for s in gateway.sandboxes), file=out)
        print("Try it:", file=out)
        print(f"$ {sample_call(url)}", file=out, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        log.info("gateway.stopping", grace_s=shutdown_grace_s)
        gateway.stopping = True
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
        await runner.cleanup()  # stops listening, waits for in-flight handlers up to the grace period
        await gateway.stop(grace_s=1.0)
        log.info("gateway.stopped")
