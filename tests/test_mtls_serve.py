"""``onewindow serve`` with TLS: it says https, requires client certificates, and two workers share the limits."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import aiohttp
import pytest

from tests.procs import Process, free_port, run_cli, write_config
from tests.test_caller_limits import UNKNOWN_ID

AGENCIES = ("tax", "social_security", "medical", "housing_fund", "property")


@pytest.mark.slow
@pytest.mark.postgres
async def test_two_tls_workers_require_client_certificates_and_share_a_callers_rate_limit(
    district, tmp_path, pg_url
) -> None:
    port = free_port()
    tls = tmp_path / "tls"
    base = write_config(tmp_path / "base.toml", store_url=pg_url, district=district)
    code, _, err = await run_cli(
        "server-cert", "issue", "--host", "127.0.0.1", "--out", str(tls), "--config", str(base)
    )
    assert code == 0, err
    code, _, err = await run_cli("client-cert", "issue", "fangzhen-window", "--out", str(tls), "--config", str(base))
    assert code == 0, err
    server = {
        "host": "127.0.0.1",
        "port": port,
        "tls_certificate": str(tls / "server.cert.pem"),
        "tls_key": str(tls / "server.key.pem"),
        "client_certificates": "required",
    }
    nowhere = {code: {"base_url": "http://127.0.0.1:9/"} for code in AGENCIES}  # only reads here: no agency call
    config = write_config(tmp_path / "c.toml", store_url=pg_url, district=district, server=server, agencies=nowhere)
    text = config.read_text(encoding="utf-8")
    limited = text.replace('id = "fangzhen-window"\n', 'id = "fangzhen-window"\nrate_limit = "10/minute"\n', 1)
    assert limited != text
    config.write_text(limited, encoding="utf-8")
    supervisor = Process("supervisor", ["serve", "--config", str(config), "--workers", "2"], tmp_path)
    await supervisor.start()
    try:
        await supervisor.wait_for_output(f"workers on https://127.0.0.1:{port}", timeout=60)
        while supervisor.output().count(f"serving on https://127.0.0.1:{port}") < 2:
            await supervisor.wait_for_output("serving on", timeout=60)
            await asyncio.sleep(0.1)
        context = ssl.create_default_context(cafile=str(tls / "district-root.pem"))
        context.load_cert_chain(str(tls / "fangzhen-window.cert.pem"), str(tls / "fangzhen-window.key.pem"))
        connector = aiohttp.TCPConnector(ssl=context, force_close=True)  # a new connection each: both workers answer
        url = f"https://127.0.0.1:{port}/v1/requests/{UNKNOWN_ID}"
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:

            async def read() -> int:
                async with session.get(url) as response:
                    return response.status

            statuses = await asyncio.wait_for(asyncio.gather(*(read() for _ in range(30))), 60)
        assert statuses.count(404) == 10 and statuses.count(429) == 20, statuses
        bare = ssl.create_default_context(cafile=str(tls / "district-root.pem"))
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.ClientError):  # no certificate: the handshake fails
                async with session.get(url, ssl=bare, headers={"Authorization": "Bearer sample-fangzhen-window-key"}):
                    pass
    finally:
        await supervisor.stop()
    assert Path(tls / "fangzhen-window.key.pem").stat().st_mode & 0o077 == 0
