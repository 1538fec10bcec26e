"""``onewindow outbox list|show|retry|dead-letter``: the real command against a store a gateway is using."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from gateway.store import RequestStatus, utcnow
from tests.procs import ONEWINDOW, run_cli, write_config
from tests.test_outbox import CLEARANCE, wait_for_status
from tests.test_store import record


async def outbox(config, *args: str) -> tuple[int, str, str]:
    return await run_cli("outbox", *args, "--config", str(config))


async def until_done(config, *args: str) -> tuple[int, str, str]:
    """Run an act, again while the request is being delivered (bounded)."""
    for _ in range(50):
        code, out, err = await outbox(config, *args)
        if "being delivered right now" not in err:
            return code, out, err
        await asyncio.sleep(0.1)
    raise AssertionError("the request stayed busy")


async def test_dead_letter_then_retry_with_a_gateway_running_delivers_it_once(
    store_url, start_gateway, district, tmp_path
) -> None:
    gw = await start_gateway(store_url, agency_changes={"tax": {"max_attempts": 1, "breaker_reset_s": 0.2}})
    config = write_config(tmp_path / "onewindow.toml", store_url=store_url, district=district)
    tax = gw.sandboxes["tax"]
    tax.knobs.update({"maintenance": True})
    accepted = await (await gw.post(CLEARANCE)).json()
    request_id = accepted["id"]
    assert accepted["status"] == "deferred"

    code, out, _ = await outbox(config, "list")
    assert code == 0 and request_id in out and "deferred" in out and "tax.clearance-certificate" in out
    code, out, _ = await outbox(config, "show", request_id, "--json")
    shown = json.loads(out)
    assert code == 0 and shown["request"]["status"] == "deferred" and shown["outbox"][0]["action"] == "submit"
    assert "张伟" not in out and CLEARANCE["applicant"]["id_number"] not in out  # no applicant data shown

    code, out, err = await until_done(config, "dead-letter", request_id, "--reason", "申请人撤回", "--by", "ops-li")
    assert code == 0, err
    assert "dead-lettered" in out and "recorded in the" in out
    assert "admin.outbox_dead_letter" in err or "recorded in the audit" in out
    dead = await wait_for_status(gw, request_id, "dead_letter")
    assert "申请人撤回" in dead["error"]["reason"] and dead["error"]["by"] == "ops-li"
    assert await gw.gateway.store.list_outbox(request_id=request_id) == []
    code, out, _ = await outbox(config, "list", "--dead", "--json")
    assert [r["id"] for r in json.loads(out)] == [request_id]

    tax.knobs.update({"maintenance": False})
    code, out, err = await outbox(config, "retry", request_id, "--reason", "税务系统已恢复")
    assert code == 0, err
    assert "admin.outbox_retry" in err or "recorded in the audit" in out
    done = await wait_for_status(gw, request_id, "completed")
    assert done["result"]["seal"]["number"]
    assert tax.ledger.stats()["effective_submissions"] == 1
    code, out, err = await run_cli("audit", "show", request_id, "--json", "--config", str(config))
    assert code == 0, err
    acts = [e for e in json.loads(out)["entries"] if e["kind"].startswith("admin.")]
    # A worker may have taken the request between the command's check and its act: that attempt is
    # recorded, then recorded as not applied, and until_done() ran the command again.
    kinds = [e["kind"] for e in acts]
    while kinds[:2] == ["admin.outbox_dead_letter", "admin.outbox_dead_letter_not_applied"]:
        kinds, acts = kinds[2:], acts[2:]
    assert kinds == ["admin.outbox_dead_letter", "admin.outbox_retry"]
    assert acts[0]["fields"]["by"] == "ops-li" and acts[1]["fields"]["reason"] == "税务系统已恢复"


async def test_acts_on_the_wrong_status_are_refused_in_one_line(store, store_url, district, tmp_path) -> None:
    config = write_config(tmp_path / "onewindow.toml", store_url=store_url, district=district)
    now = utcnow()
    done = record(status=RequestStatus.COMPLETED, finished_at=now)
    busy = record()
    await store.insert_request(done)
    await store.accept_request(busy, claimed_by="gw-1", lease_until=now + timedelta(minutes=1), expires_at=now)
    for args, expected in (
        (("retry", done.id), "only dead-lettered or failed requests can be retried"),
        (("dead-letter", done.id, "--reason", "x"), "only accepted, deferred or pending"),
        (("dead-letter", busy.id, "--reason", "x"), "being delivered right now"),
        (("show", "01JNOSUCHREQUEST0000000000"), "no request"),
    ):
        code, _, err = await outbox(config, *args)
        assert code == 2 and expected in err and err.count("\n") == 1, (args, err)
    assert (await store.get_request(done.id)).status is RequestStatus.COMPLETED
    assert (await store.get_request(busy.id)).status is RequestStatus.ACCEPTED


async def test_a_non_deferrable_item_is_not_retried_in_the_background(store, store_url, district, tmp_path) -> None:
    config = write_config(tmp_path / "onewindow.toml", store_url=store_url, district=district)
    failed = record(item="tax.individual-invoice", status=RequestStatus.FAILED, finished_at=utcnow())
    await store.insert_request(failed)
    code, _, err = await outbox(config, "retry", failed.id)
    assert code == 2 and "never delivered in the background" in err


async def test_outbox_commands_refuse_a_sqlite_store_that_does_not_exist(district, tmp_path) -> None:
    config = write_config(tmp_path / "onewindow.toml", store_url="sqlite:///var/onewindow.db", district=district)
    for args in (("list",), ("list", "--dead"), ("show", "01JNOSUCHREQUEST0000000000")):
        proc = await asyncio.create_subprocess_exec(
            ONEWINDOW,
            "outbox",
            *args,
            "--config",
            str(config),
            cwd=tmp_path,  # run from another directory than the gateway's
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = (b.decode() for b in await asyncio.wait_for(proc.communicate(), 60))
        assert proc.returncode == 2 and out == "", args
        assert err.startswith(f"onewindow: no store at {tmp_path / 'var' / 'onewindow.db'}") and err.count("\n") == 1
        assert "working directory" in err and "--config" in err
    assert not (tmp_path / "var").exists()  # and none was created


async def test_an_operator_drops_a_completed_requests_failing_callback(store, store_url, district, tmp_path) -> None:
    config = write_config(tmp_path / "onewindow.toml", store_url=store_url, district=district)
    now = utcnow()
    done = record(status=RequestStatus.COMPLETED, finished_at=now, callback_url="http://127.0.0.1:9/wrong")
    await store.insert_request(done)
    day = now + timedelta(hours=24)
    await store.schedule(done.id, "callback", due_at=now, expires_at=day, attempts=12, last_error="refused")

    code, _, err = await outbox(config, "dead-letter", done.id, "--reason", "wrong callback URL")
    assert code == 2 and "is completed" in err and f"onewindow outbox drop {done.id}" in err
    code, _, err = await outbox(config, "drop", done.id, "--action", "submit", "--reason", "x")
    assert code == 2 and "dead-letter" in err and err.count("\n") == 1
    assert len(await store.list_outbox(request_id=done.id)) == 1

    code, out, err = await outbox(config, "drop", done.id, "--reason", "回调地址错误", "--by", "ops-li")
    assert code == 0, err
    assert "dropped after 12 attempt(s)" in out and "recorded in the audit log" in out
    assert await store.list_outbox(request_id=done.id) == []
    assert (await store.get_request(done.id)).status is RequestStatus.COMPLETED
    code, out, err = await run_cli("audit", "show", done.id, "--json", "--config", str(config))
    assert code == 0, err
    [act] = [e for e in json.loads(out)["entries"] if e["kind"].startswith("admin.")]
    assert act["kind"] == "admin.outbox_drop" and act["fields"]["action"] == "callback"
    assert act["fields"]["by"] == "ops-li" and act["fields"]["reason"] == "回调地址错误"
    assert act["fields"]["status"] == "completed" and act["fields"]["attempts"] == 12

    code, _, err = await outbox(config, "drop", done.id, "--reason", "again")
    assert code == 2 and "has no callback waiting" in err
    await store.schedule(done.id, "callback", due_at=now, expires_at=day)
    await store.claim_outbox("gw-1", now=now, lease_until=utcnow() + timedelta(minutes=1), limit=10)
    code, _, err = await outbox(config, "drop", done.id, "--reason", "x")
    assert code == 2 and "being sent right now" in err
    assert len(await store.list_outbox(request_id=done.id)) == 1
