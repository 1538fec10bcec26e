"""The integrators' example client (examples/intake_client.py) works against the real gateway."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from examples.intake_client import callback_is_genuine
from gateway.delivery.callbacks import sign_callback
from tests.helpers import ORGANISATION, PERSON, TOWN

EXAMPLE = Path(__file__).parents[1] / "examples" / "intake_client.py"


async def run_example(gw, envelope: dict, tmp_path: Path) -> tuple[int, str, str]:
    path = tmp_path / "envelope.json"
    path.write_text(json.dumps(envelope, ensure_ascii=False), encoding="utf-8")
    base = str(gw.client.make_url("")).rstrip("/")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLE),
        base,
        "sample-fangzhen-window-key",
        str(path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode, out.decode(), err.decode()


async def test_the_example_submits_and_prints_the_sealed_result(gw, tmp_path: Path) -> None:
    envelope = {
        "item": "tax.credit-grade",
        "applicant": ORGANISATION,
        "materials": {"year": 2025},
        "office": TOWN,
        "operator": "fz-window-01",
        "channel": "window",
    }
    code, out, err = await run_example(gw, envelope, tmp_path)
    assert code == 0, err
    result = json.loads(out)
    assert result["status"] == "completed" and result["seal"].startswith("370303-")


async def test_the_example_lists_every_problem_of_a_422(gw, tmp_path: Path) -> None:
    envelope = {
        "item": "tax.payment-record",
        "applicant": {**PERSON, "id_number": "370303199001011238"},
        "materials": {},
        "office": TOWN,
        "operator": "fz-window-01",
        "channel": "window",
    }
    code, _, err = await run_example(gw, envelope, tmp_path)
    assert code == 1 and "validation-failed" in err
    assert err.count("\n  - ") == 3  # id number, period_start, period_end


async def test_the_example_waits_out_a_deferral(start_gateway, tmp_path: Path) -> None:
    gw = await start_gateway(agency_changes={"tax": {"breaker_reset_s": 0.5}})
    tax = gw.sandboxes["tax"]
    tax.knobs.update({"maintenance": True})
    envelope = {
        "item": "tax.credit-grade",
        "applicant": ORGANISATION,
        "materials": {"year": 2024},
        "office": TOWN,
        "operator": "fz-window-01",
        "channel": "window",
    }
    task = asyncio.create_task(run_example(gw, envelope, tmp_path))
    async with asyncio.timeout(30):  # the bureau stays in maintenance until the request has met it
        while not await gw.gateway.store.list_requests(status="deferred"):
            assert not task.done(), await task
            await asyncio.sleep(0.05)
    tax.knobs.update({"maintenance": False})
    code, out, err = await task
    assert code == 0, err
    final = json.loads(out)
    assert final["status"] == "completed"
    record = await gw.gateway.store.get_request(final["id"])
    assert record.attempts >= 2, "the bureau was never met in maintenance: no deferral was waited out"


def test_the_examples_callback_check_agrees_with_the_gateway() -> None:
    body = b'{"status": "completed"}'
    header = sign_callback("s3cret", body, int(time.time()))
    assert callback_is_genuine("s3cret", body, header)
    assert not callback_is_genuine("other", body, header)


async def test_the_examples_receiver_takes_the_gateways_signed_callback_and_refuses_a_forged_one(
    gw, tmp_path: Path
) -> None:
    import aiohttp

    from tests.procs import free_port

    port = free_port()
    receiver = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLE),
        "receive",
        str(port),
        "sample-fangzhen-window-callback-secret",  # the sample window caller's secret, as docs/api.md says
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert "receiving callbacks" in (await asyncio.wait_for(receiver.stdout.readline(), 10)).decode()
        url = f"http://127.0.0.1:{port}/onewindow/callback"
        body = b'{"id": "x", "status": "completed"}'
        forged = {"Onewindow-Signature": sign_callback("not-the-secret", body, int(time.time()))}
        async with aiohttp.ClientSession() as session:
            assert (await session.post(url, data=body, headers=forged)).status == 401
        assert "REFUSED" in (await asyncio.wait_for(receiver.stdout.readline(), 10)).decode()
        envelope = {
            "item": "tax.credit-grade",
            "applicant": ORGANISATION,
            "materials": {"year": 2025},
            "office": TOWN,
            "operator": "fz-window-01",
            "channel": "window",
            "callback_url": url,
        }
        answer = await gw.post(envelope)
        assert answer.status == 201, await answer.text()
        request_id = (await answer.json())["id"]
        line = (await asyncio.wait_for(receiver.stdout.readline(), 30)).decode()
        assert line.strip() == f"genuine callback to /onewindow/callback: request {request_id} is completed"
    finally:
        receiver.terminate()
        await receiver.wait()
