"""Serving the gateway over HTTP until told to stop.

On SIGTERM or SIGINT the listener closes first (no new requests) and the
outbox worker stops claiming; intake calls and deliveries in flight get up
to ``[outbox] shutdown_grace_s`` to finish, side by side. What has not
finished by then is cancelled and stays in the outbox (this instance's
leases are released, so the next instance redelivers it at once, with the
same dedupe key), and only then are the store and sessions closed. The
process exits within the grace period plus a few seconds; a second signal
during the drain ends it at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from pathlib import Path
from typing import TextIO

from aiohttp import web

from gateway.api.app import create_app
from gateway.api.event_loop import loop_name
from gateway.api.guard import make_runner
from gateway.callers.sample_key import SAMPLE_CALLER, ensure_sample_key
from gateway.config import SAMPLE_SOURCE, Settings
from gateway.core import Gateway
from gateway.errors import OperatorError
from gateway.heap import settle_heap
from gateway.observability.logs import flush_lines, get_logger
from gateway.tls.context import ROOT_CERTIFICATE, server_context

CANCEL_MARGIN_S = 3.0  # after the grace: for cancelled handlers to record their state
SAMPLE_CALLER_KEY = "sample-fangzhen-window-key"
SAMPLE_KEY_FILE = Path("var/caller-keys/fangzhen-window.json")
SAMPLE_ENVELOPE = {
    "item": "tax.payment-record",
    "applicant": {"kind": "person", "id_number": "370303199001011239", "name": "张伟"},
    "materials": {"period_start": "2025-01-01", "period_end": "2025-12-31"},
    "office": "370303105000",
    "operator": "fz-window-01",
    "channel": "window",
}


def sample_call(url: str, cacert: str = "") -> str:
    """A one-line curl command that submits a sample request (sample configuration only).

    Over https it names ``cacert``, the district root the server certificate is checked with.
    """
    body = json.dumps(SAMPLE_ENVELOPE, ensure_ascii=False, separators=(",", ":"))
    trust = f"--cacert {cacert} " if cacert and url.startswith("https:") else ""
    return (
        f"curl -sS {trust}-X POST {url}/v1/requests -H 'Authorization: Bearer {SAMPLE_CALLER_KEY}' "
        f"-H 'Content-Type: application/json' -d '{body}'"
    )


def signed_sample_call(url: str) -> str:
    """The same sample request, signed with the sample window's key (``onewindow call``)."""
    return (
        f".venv/bin/onewindow call tax.payment-record --data examples/requests/tax.payment-record.json "
        f"--caller {SAMPLE_CALLER} --key-file {SAMPLE_KEY_FILE} --url {url}"
    )


async def drain(runner: web.AppRunner, gateway: Gateway, grace_s: float) -> None:
    """Stop accepting, let in-flight intake calls and deliveries finish within ``grace_s``, then stop.

    aiohttp's ``runner.cleanup()`` closes the listener, closes idle
    keep-alive connections and waits for each running handler. An intake
    call still waiting on its agency when ``grace_s`` is up is interrupted
    (:meth:`Router.interrupt`): its caller gets ``202`` with the request as it
    stands, and the request waits in the outbox for the next instance; the
    interrupted attempt is audited. Outbox work still running is cancelled
    the same way and stays in the outbox. Only when every handler has
    answered are the audit log, the extranet and, last, the store closed.
    """
    log = get_logger(component="serve")
    started = time.monotonic()
    gateway.stopping = True  # /readyz answers 503 from now on
    worker = gateway.worker
    quiesce = worker.stop(grace_s, release=False) if worker is not None else asyncio.sleep(0)

    async def interrupt_at_grace() -> None:
        await asyncio.sleep(grace_s)
        interrupted = gateway.router.interrupt()
        if interrupted:
            log.warning("gateway.intake_interrupted", requests=interrupted, grace_s=grace_s)

    interrupter = asyncio.create_task(interrupt_at_grace())
    try:
        async with asyncio.timeout(grace_s + CANCEL_MARGIN_S):
            await asyncio.gather(runner.cleanup(), quiesce)
    except TimeoutError:
        log.warning("gateway.drain_overran", grace_s=grace_s)
    finally:
        interrupter.cancel()
    if worker is None:  # [outbox] workers = false: release this instance's intake leases here
        with contextlib.suppress(Exception):
            await gateway.store.release_outbox_claims(gateway.instance)
    await gateway.stop(grace_s=0)  # releases this instance's leases: the rest waits in the outbox
    log.info("gateway.stopped", drained_in_s=round(time.monotonic() - started, 2))


async def reload(gateway: Gateway) -> None:
    """SIGHUP: take the configuration file's callers and offices now; a refused file changes nothing."""
    log = get_logger(component="serve")
    try:
        restart = await gateway.reload()
    except OperatorError as exc:
        log.error("config.reload_refused", error=str(exc), kept="the running configuration")
        return
    log.info("config.reloaded", callers=len(gateway.settings.callers), offices=len(gateway.settings.offices))
    if restart:
        log.warning("config.reload_needs_restart", sections=restart, advice="these take effect at the next start")


async def serve(
    settings: Settings, *, out: TextIO = sys.stdout, ready: asyncio.Event | None = None, reuse_port: bool = False
) -> None:
    """Run the gateway until SIGTERM/SIGINT; ``reuse_port`` lets several workers share the port."""
    shutdown_grace_s = settings.outbox.shutdown_grace_s
    log = get_logger(component="serve")
    tls = server_context(settings.tls, settings.pki_dir)  # a wrong certificate or key stops here, nothing started
    gateway = Gateway(settings)
    await gateway.start()
    app = create_app(gateway)
    # aiohttp cancels a handler only after the grace and half the margin: by then drain() has interrupted it
    # and it has answered 202 (a cancelled handler answers nothing at all).
    cancel_after = shutdown_grace_s + CANCEL_MARGIN_S / 2
    runner = make_runner(app, settings.http, access_log=None, shutdown_timeout=cancel_after, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(
        runner, settings.host, settings.port, reuse_address=True, reuse_port=reuse_port or None, ssl_context=tls
    )
    # Caught before the socket listens: from the first connection on, a stop signal means drain, however far
    # the rest of start-up (the heap settling, the banner) has got. A supervisor stops a new worker so.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await site.start()
    except OSError as exc:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await runner.cleanup()
        await gateway.stop()
        raise SystemExit(f"onewindow: cannot listen on {settings.host}:{settings.port}: {exc.strerror}") from None
    url = f"{'https' if tls else 'http'}://{settings.host}:{runner.addresses[0][1]}"
    log.info(
        "gateway.serving",
        url=url,
        store=gateway.store.backend,
        items=len(gateway.registry.catalogue),
        configuration=settings.source,
        event_loop=loop_name(loop),
        frozen_objects=settle_heap(),  # start-up is done: what it built is set aside from the collector
    )
    flush_lines()  # the lines of start-up out before the banner: read in order where both streams meet
    print(
        f"Onewindow is serving on {url} ({len(gateway.registry.catalogue)} items, "
        f"{gateway.store.backend} store, {settings.source}).",
        file=out,
        flush=True,
    )
    # what verifiers pin: `onewindow verify --root-fingerprint`
    print(f"District root certificate sha256: {gateway.sealer.trust_view().root_fingerprint}", file=out, flush=True)
    if tls is not None:
        print(f"TLS: client certificates {settings.tls.client_certificates}.", file=out, flush=True)
    if settings.sandboxes_start:
        print("Agency sandboxes: " + ", ".join(f"{s.spec.agency}={s.url}" for s in gateway.sandboxes), file=out)
        print("Try it:", file=out)
        print(f"$ {sample_call(url, str(Path(settings.pki_dir) / ROOT_CERTIFICATE))}", file=out, flush=True)
        if settings.source == SAMPLE_SOURCE and await ensure_sample_key(gateway.store, settings, SAMPLE_KEY_FILE):
            print("Or signed (RFC 9421) with the window's sample key, as intake systems do:", file=out)
            print(f"$ {signed_sample_call(url)}", file=out, flush=True)
    reloads: set[asyncio.Task[None]] = set()

    def on_hangup() -> None:
        task = asyncio.create_task(reload(gateway))
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, on_hangup)
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        log.info("gateway.stopping", grace_s=shutdown_grace_s)
        gateway.stopping = True
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
        await drain(runner, gateway, shutdown_grace_s)
