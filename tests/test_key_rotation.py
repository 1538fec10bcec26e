"""Replacing a caller's key on two instances without a restart and without one 401 (SIGHUP, overlapping keys)."""

from __future__ import annotations

import asyncio
import hashlib
import signal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.config import load_settings
from gateway.errors import ConfigError
from gateway.intake.request_ids import new_ulid
from tests.procs import Process, free_port, start_sandboxes, wait_http, write_config

OLD_KEY, NEW_KEY = "kiosk-key-2026-old-0001", "kiosk-key-2027-new-0002"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _config(tmp_path: Path, name: str, store_url: str, district, urls: dict[str, str], port: int, keys: list[str]):
    """The sample district's configuration, with the window caller's key digests replaced by ``keys``'."""
    sample = load_settings(environ={}).raw
    callers = [dict(row) for row in sample["callers"]]
    callers[0]["api_key_sha256"] = [_digest(k) for k in keys] if len(keys) > 1 else _digest(keys[0])
    path = write_config(
        tmp_path / f"{name}.toml",
        store_url=store_url,
        district=district,
        server={"host": "127.0.0.1", "port": port},
        agencies={code: {"base_url": url} for code, url in urls.items()},
    )
    text = path.read_text(encoding="utf-8").split("[[callers]]")[0]  # the sample's callers, ours in their place
    rows = []
    for row in callers:
        rows.append("[[callers]]\n" + "\n".join(f"{k} = {_value(v)}" for k, v in row.items()))
    path.write_text(text + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _table(name: str, row: dict[str, Any]) -> str:
    return f"[[{name}]]\n" + "\n".join(f"{k} = {_value(v)}" for k, v in row.items()) + "\n"


def _value(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


async def _until_accepted(session: aiohttp.ClientSession, base: str, key: str) -> None:
    for _ in range(100):  # bounded: 10 s
        async with session.get(f"{base}/v1/requests/{new_ulid()}", headers={"Authorization": f"Bearer {key}"}) as r:
            if r.status == 404:
                return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{base} never accepted the new key")


@pytest.mark.slow
@pytest.mark.postgres
async def test_a_key_replaced_on_two_instances_with_overlap_sees_no_401(pg_url: str, district, tmp_path: Path) -> None:
    sandbox, urls = await start_sandboxes(tmp_path, "tax", "social_security", "medical", "housing_fund", "property")
    ports = [free_port(), free_port()]
    bases = [f"http://127.0.0.1:{p}" for p in ports]
    configs = [_config(tmp_path, f"gw{i}", pg_url, district, urls, p, [OLD_KEY]) for i, p in enumerate(ports)]
    gateways = [Process(f"gw{i}", ["serve", "--config", str(c)], tmp_path) for i, c in enumerate(configs)]
    statuses: list[tuple[str, int]] = []
    current = {"key": OLD_KEY}
    done = asyncio.Event()

    async def kiosk(session: aiohttp.ClientSession) -> None:  # asks both instances in turn, all along
        n = 0
        while not done.is_set() and n < 5000:
            base = bases[n % 2]
            key = current["key"]
            async with session.get(
                f"{base}/v1/requests/{new_ulid()}", headers={"Authorization": f"Bearer {key}"}
            ) as answer:
                statuses.append((key, answer.status))
            n += 1
            await asyncio.sleep(0.01)

    try:
        for gw, base in zip(gateways, bases, strict=True):
            await gw.start()
            await wait_http(f"{base}/healthz", process=gw)
        async with aiohttp.ClientSession() as session, asyncio.timeout(120):
            client = asyncio.create_task(kiosk(session))
            await asyncio.sleep(0.3)
            for i, (gw, port) in enumerate(zip(gateways, ports, strict=True)):  # 1. both keys, instance by instance
                _config(tmp_path, f"gw{i}", pg_url, district, urls, port, [OLD_KEY, NEW_KEY])
                gw.signal(signal.SIGHUP)
                await _until_accepted(session, bases[i], NEW_KEY)
            current["key"] = NEW_KEY  # 2. the kiosk moves to its new key
            await asyncio.sleep(0.3)
            for i, (gw, port) in enumerate(zip(gateways, ports, strict=True)):  # 3. the old key goes
                _config(tmp_path, f"gw{i}", pg_url, district, urls, port, [NEW_KEY])
                gw.signal(signal.SIGHUP)
            await asyncio.sleep(1.0)
            done.set()
            await client
            for base in bases:
                async with session.get(
                    f"{base}/v1/requests/{new_ulid()}", headers={"Authorization": f"Bearer {OLD_KEY}"}
                ) as r:
                    assert r.status == 401, "the old key still works after it was retired"
        refused = [s for s in statuses if s[1] == 401]
        assert len(statuses) > 50 and refused == [], f"{len(refused)} of {len(statuses)} calls refused"
        assert {key for key, _ in statuses} == {OLD_KEY, NEW_KEY}
    finally:
        for gw in gateways:
            await gw.stop()
        await sandbox.stop()


def test_a_caller_may_hold_two_key_digests_but_not_three_nor_one_twice(tmp_path: Path) -> None:
    from gateway.config.callers import parse_callers, parse_offices

    offices = parse_offices([{"code": "370303105000", "name": "站", "level": "town"}])
    row = {"id": "k", "office": "370303105000", "channel": "kiosk", "items": ["tax.*"]}
    two = parse_callers([{**row, "api_key_sha256": [_digest(OLD_KEY), _digest(NEW_KEY)]}], offices)
    assert two[0].api_key_sha256 == (_digest(OLD_KEY), _digest(NEW_KEY))
    with pytest.raises(ConfigError, match="a list of two"):
        parse_callers([{**row, "api_key_sha256": [_digest(OLD_KEY), _digest(NEW_KEY), _digest("third")]}], offices)
    with pytest.raises(ConfigError, match="the same digest twice"):
        parse_callers([{**row, "api_key_sha256": [_digest(OLD_KEY), _digest(OLD_KEY)]}], offices)


async def test_a_reload_takes_the_callers_and_refuses_a_wrong_file_whole(start_gateway, tmp_path: Path) -> None:
    import dataclasses

    gw = await start_gateway()
    path = tmp_path / "reload.toml"
    sample = load_settings(environ={}).raw
    callers = [dict(row) for row in sample["callers"]]
    window = callers[0]["id"]

    def write(rows: list[dict[str, Any]], extra: str = "") -> None:
        body = "".join(
            "[[offices]]\n" + "\n".join(f"{k} = {_value(v)}" for k, v in o.items()) + "\n" for o in sample["offices"]
        )
        body += "".join("[[callers]]\n" + "\n".join(f"{k} = {_value(v)}" for k, v in r.items()) + "\n" for r in rows)
        path.write_text("[authentication]\nallow_api_key = true\n" + extra + body, encoding="utf-8")

    gw.gateway.settings = dataclasses.replace(gw.gateway.settings, source=str(path))
    callers[0]["api_key_sha256"] = [callers[0]["api_key_sha256"], _digest(NEW_KEY)]
    write(callers, "[server]\nport = 8799\n")
    restart = await gw.gateway.reload()
    assert "server" in restart and not {"callers", "offices"} & set(restart)  # the port changes at the next start
    assert (await gw.get(f"/v1/requests/{new_ulid()}", key=NEW_KEY)).status == 404
    wrong = [dict(row) for row in callers]
    wrong[0]["items"] = ["tax.no-such-item"]
    write(wrong)
    with pytest.raises(ConfigError, match=r"callers\[0\]\.items: 'tax\.no-such-item' matches no installed item"):
        await gw.gateway.reload()
    assert (await gw.get(f"/v1/requests/{new_ulid()}", key=NEW_KEY)).status == 404, "a refused reload changed the keys"
    assert window == gw.gateway.settings.callers[0].id
