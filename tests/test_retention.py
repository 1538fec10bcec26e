"""Retention: ``onewindow purge`` removes applicants' data of old finished requests, and nothing else."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from gateway.config import AuditSettings, load_settings
from gateway.errors import ConfigError
from gateway.store import RequestStatus, Store, utcnow
from tests.helpers import PAYMENT_RECORD, PERSON
from tests.procs import run_cli, write_config
from tests.test_store import record

LONG_AGO = timedelta(days=400)


async def test_only_finished_requests_past_the_cut_off_lose_their_personal_data(store: Store) -> None:
    now = utcnow()
    old = record(
        status=RequestStatus.COMPLETED,
        result={"document": {"applicant": {"name": "张伟"}}},
        error={"code": "x", "message": "张伟 370303199001011239"},
        callback_url="http://127.0.0.1:9/hook",
        finished_at=now - LONG_AGO,
    )
    recent = record(status=RequestStatus.COMPLETED, result={"document": {}}, finished_at=now - timedelta(days=3))
    waiting = record(status=RequestStatus.PENDING)  # not finished: its envelope is still needed to poll
    for rec in (old, recent, waiting):
        await store.insert_request(rec)
    await store.claim_idempotency_key(
        "fangzhen-window",
        "k-old",
        body_digest="d",
        request_id=old.id,
        now=now,
        expires_at=now + timedelta(days=1),
        lease_until=now,
    )
    cutoff = now - timedelta(days=365)
    assert await store.count_purgeable(cutoff) == 1
    assert await store.purge_finished(cutoff, now=now, limit=100) == [old.id]
    assert await store.purge_finished(cutoff, now=now, limit=100) == []  # purged once
    gone = await store.get_request(old.id)
    assert gone.envelope == {"purged": True} and gone.result is None and gone.callback_url is None
    assert gone.error == {"code": "x"} and gone.purged_at is not None
    assert gone.status is RequestStatus.COMPLETED and gone.finished_at == old.finished_at
    assert (await store.get_request(recent.id)).envelope == recent.envelope
    assert (await store.get_request(waiting.id)).envelope == waiting.envelope
    claim = await store.claim_idempotency_key(
        "fangzhen-window",
        "k-old",
        body_digest="other",
        request_id="new",
        now=now,
        expires_at=now + timedelta(days=1),
        lease_until=now,
    )
    assert claim.state.value == "new", "the stored answer of a purged request is still kept"


async def test_purge_records_the_act_then_purges_and_the_audit_log_still_verifies(
    store_url, start_gateway, district, tmp_path
) -> None:
    key_file = tmp_path / "payload.key"
    key_file.write_text(bytes(range(32)).hex(), encoding="ascii")
    gw = await start_gateway(store_url, audit=AuditSettings(payload_key_file=str(key_file)))
    body = await (await gw.post(PAYMENT_RECORD)).json()
    assert body["status"] == "completed"
    store = gw.gateway.store
    await store.update_request(body["id"], finished_at=utcnow() - LONG_AGO)
    config = write_config(
        tmp_path / "onewindow.toml", store_url=store_url, district=district, audit={"payload_key_file": str(key_file)}
    )
    code, out, err = await run_cli("purge", "--dry-run", "--config", str(config))
    assert code == 0 and "would purge 1 request(s)" in out, err
    assert (await store.get_request(body["id"])).purged_at is None
    code, out, err = await run_cli("purge", "--config", str(config), "--by", "ops-li")
    assert code == 0 and "purged 1 request(s)" in out, err

    shown = await (await gw.get(f"/v1/requests/{body['id']}")).json()
    assert shown["status"] == "completed" and "purged_at" in shown and "result" not in shown
    assert PERSON["name"] not in json.dumps(shown, ensure_ascii=False)
    rows = [r async for chunk in gw.gateway.audit.store.entries() for r in chunk]
    assert all(r[6] is None for r in rows if r[4] == body["id"]), "an encrypted raw payload survived the purge"
    acts = [json.loads(r[1]) for r in rows if json.loads(r[1])["kind"] == "admin.retention_purge"]
    assert len(acts) == 1 and acts[0]["fields"]["due"] == 1 and acts[0]["fields"]["by"] == "ops-li"
    await gw.gateway.audit.checkpoint()
    code, out, err = await run_cli("audit", "verify", "--config", str(config))
    assert code == 0, out + err


def _loaded(tmp_path, text: str):
    path = tmp_path / "onewindow.toml"
    path.write_text("[retention]\n" + text + "\n", encoding="utf-8")
    return load_settings(path, environ={})


@pytest.mark.parametrize("days", ["0", "-1", "36501", '"a year"', "true"])
def test_a_retention_period_that_is_not_a_number_of_days_is_refused(tmp_path, days: str) -> None:
    with pytest.raises(ConfigError, match=r"retention\.finished_after_days"):
        _loaded(tmp_path, f"finished_after_days = {days}")


def test_an_unknown_retention_key_is_refused(tmp_path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"^retention\.finished_after_day: unknown key \(did you mean retention\.finished_after_days\?\)$",
    ):
        _loaded(tmp_path, "finished_after_day = 30")


def test_the_configured_retention_is_read(tmp_path) -> None:
    assert _loaded(tmp_path, "finished_after_days = 90").retention.finished_after_days == 90
