"""Mutual TLS: callers that show a client certificate the district issued with ``onewindow client-cert``."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.api.app import create_app
from gateway.api.guard import make_runner
from gateway.cli.main import main
from gateway.config import ConfigError, TlsSettings
from gateway.config.tls import parse_tls_settings
from gateway.store import make_store
from gateway.tls.context import server_context
from signing.keys.passphrase import Passphrase
from signing.pki.certificates import build_root_certificate
from signing.pki.tls_certificates import build_client_certificate, caller_of
from signing.registry.seal_registry import SealRegistry
from tests.conftest import IN_CI, SAMPLE_PASSPHRASE, make_district
from tests.procs import write_config
from tests.test_caller_limits import UNKNOWN_ID, audited
from tests.test_mtls_serve import AGENCIES
from tests.test_outbox import CLEARANCE

PASSPHRASE_VARIABLES = (
    "ONEWINDOW_CONFIG",
    "ONEWINDOW_ROOT_PASSPHRASE",
    "ONEWINDOW_ROOT_PASSPHRASE_FILE",
    "ONEWINDOW_SEAL_PASSPHRASE",
    "ONEWINDOW_SEAL_PASSPHRASE_FILE",
)


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A district of this module's own: its tests issue and revoke TLS certificates in it."""
    return make_district(tmp_path_factory.mktemp("mtls-district"))


@pytest.fixture
def onewindow(district, monkeypatch, capsys):
    """Run the ``onewindow`` command on the district's PKI (sample configuration); (exit code, stdout)."""
    for name in PASSPHRASE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ONEWINDOW_PKI__DIR", str(district[0]))
    monkeypatch.setenv("ONEWINDOW_PKI__PASSPHRASE_FILE", str(district[1]))

    def run(*argv: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    return run


@pytest.fixture
def server_files(onewindow, tmp_path) -> tuple[str, str]:
    """The gateway's server certificate and key, issued by ``onewindow server-cert issue``."""
    code, out = onewindow("server-cert", "issue", "--host", "127.0.0.1", "--out", str(tmp_path / "server"))
    assert code == 0, out
    return str(tmp_path / "server/server.cert.pem"), str(tmp_path / "server/server.key.pem")


def issue(onewindow, caller: str, out: Path, *extra: str) -> tuple[str, str, str]:
    """A client certificate for ``caller`` by ``onewindow client-cert issue``: (cert, key, serial)."""
    code, text = onewindow("client-cert", "issue", caller, "--out", str(out), *extra)
    assert code == 0, text
    serial = text.split("serial ", 1)[1].split(",", 1)[0]
    return str(out / f"{caller}.cert.pem"), str(out / f"{caller}.key.pem"), serial


@dataclasses.dataclass
class TlsSite:
    url: str
    gateway: Any


@pytest.fixture
async def tls_gateway(start_gateway, server_files, district) -> AsyncIterator[Any]:
    """Factory: a gateway listening with TLS (the server certificate from ``onewindow``), in ``mode``."""
    runners: list[web.AppRunner] = []

    async def start(mode: str = "required", store_url: str | None = None) -> TlsSite:
        tls = TlsSettings(certificate=server_files[0], key=server_files[1], client_certificates=mode)
        gw = await start_gateway(store_url, tls=tls)
        runner = make_runner(create_app(gw.gateway), gw.gateway.settings.http)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context(tls, str(district[0])))
        await site.start()
        return TlsSite(f"https://127.0.0.1:{runner.addresses[0][1]}", gw.gateway)

    yield start
    for runner in runners:
        await runner.cleanup()


def client_context(district, cert: str | None = None, key: str | None = None) -> ssl.SSLContext:
    """What an intake system does: trust the district root for the server, show its own certificate."""
    context = ssl.create_default_context(cafile=str(district[0] / "root/root-cert.pem"))
    if cert is not None:
        context.load_cert_chain(cert, key)
    return context


async def call(
    site: TlsSite, context: ssl.SSLContext, method: str = "GET", path: str = f"/v1/requests/{UNKNOWN_ID}", **kw: Any
) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
        session.request(method, site.url + path, ssl=context, **kw) as response,
    ):
        return response.status, await response.json()


async def test_a_caller_submits_over_mutual_tls_with_a_certificate_issued_by_onewindow(
    tls_gateway, onewindow, district, tmp_path
) -> None:
    site = await tls_gateway("required")
    cert, key, _ = issue(onewindow, "fangzhen-window", tmp_path / "window")
    context = client_context(district, cert, key)
    status, body = await call(site, context, "POST", "/v1/requests", json=CLEARANCE)  # no API key at all
    assert status == 201 and body["status"] == "completed", body
    record = await site.gateway.store.get_request(body["id"])
    assert record.caller_id == "fangzhen-window"
    status, again = await call(site, context, path=f"/v1/requests/{body['id']}")
    assert status == 200 and again["id"] == body["id"]


async def test_a_revoked_certificate_is_refused_from_the_next_request_without_a_restart(
    tls_gateway, onewindow, district, tmp_path
) -> None:
    site = await tls_gateway("required")
    cert, key, serial = issue(onewindow, "dongcun-station", tmp_path / "station")
    context = client_context(district, cert, key)
    assert (await call(site, context))[0] == 404  # authenticated: the request just does not exist
    code, out = onewindow("client-cert", "revoke", serial.upper(), "--reason", "key_compromise")
    assert code == 0 and f"Revoked client certificate {serial}" in out, out
    status, problem = await call(site, context)
    assert status == 401 and problem["type"] == "/problems/client-certificate-refused"
    assert problem["reason"] == "revoked"
    assert await audited(site.gateway.store, "client_certificate.refused") == 1
    code, listed = onewindow("client-cert", "list")
    assert f"{serial}" in listed and "revoked (key_compromise)" in listed


async def test_revoking_a_caller_revokes_every_certificate_it_holds(tls_gateway, onewindow, district, tmp_path):
    site = await tls_gateway("optional")
    first = issue(onewindow, "helper-tablet", tmp_path / "one")
    second = issue(onewindow, "helper-tablet", tmp_path / "two")
    code, out = onewindow("client-cert", "revoke", "helper-tablet")
    assert code == 0 and out.count("Revoked client certificate") == 2, out
    for cert, key, _ in (first, second):
        status, problem = await call(site, client_context(district, cert, key))
        assert (status, problem["reason"]) == (401, "revoked")


async def test_a_certificate_from_a_foreign_ca_fails_the_handshake(tls_gateway, district, tmp_path) -> None:
    site = await tls_gateway("optional")
    # A CA with the district root's very name, and a client certificate naming a real caller.
    real = x509.load_pem_x509_certificate((district[0] / "root/root-cert.pem").read_bytes())
    org = str(real.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value)
    foreign_key = ec.generate_private_key(ec.SECP384R1())
    foreign = build_root_certificate(foreign_key, "370303", org, datetime.now(UTC) - timedelta(minutes=1), 365)
    assert foreign.subject == real.subject
    cert, key = write_client(tmp_path, foreign_key, foreign, "fangzhen-window")
    with pytest.raises(aiohttp.ClientError):
        await call(site, client_context(district, cert, key), headers={"Authorization": "Bearer x"})


async def test_without_a_certificate_the_handshake_fails_when_one_is_required(tls_gateway, district) -> None:
    site = await tls_gateway("required")
    with pytest.raises(aiohttp.ClientError):
        await call(site, client_context(district), headers={"Authorization": "Bearer sample-fangzhen-window-key"})


async def test_without_a_certificate_the_other_methods_decide_when_one_is_optional(tls_gateway, district) -> None:
    site = await tls_gateway("optional")
    key = {"Authorization": "Bearer sample-fangzhen-window-key"}
    assert (await call(site, client_context(district), headers=key))[0] == 404
    status, problem = await call(site, client_context(district))
    assert status == 401 and problem["type"] == "/problems/unauthenticated"


async def test_a_certificate_the_root_signed_but_the_district_did_not_list_is_refused(
    tls_gateway, district, tmp_path
) -> None:
    site = await tls_gateway("required")
    registry = SealRegistry.open(district[0])
    root_key = registry.root_key(Passphrase(SAMPLE_PASSPHRASE))
    cert, key = write_client(tmp_path, root_key, registry.root_certificate, "fangzhen-window")
    status, problem = await call(site, client_context(district, cert, key))
    assert (status, problem["reason"]) == (401, "not_issued")
    assert await audited(site.gateway.store, "client_certificate.refused") == 1


async def test_a_certificate_for_a_caller_the_gateway_does_not_know_is_refused(
    tls_gateway, onewindow, district, tmp_path
) -> None:
    site = await tls_gateway("required")
    code, out = onewindow("client-cert", "issue", "ghost-window", "--out", str(tmp_path))
    assert code == 2 and "no caller 'ghost-window'" in out
    cert, key, _ = issue(onewindow, "ghost-window", tmp_path, "--any-caller")
    status, problem = await call(site, client_context(district, cert, key))
    assert (status, problem["reason"]) == (401, "unknown_caller")


def write_client(directory: Path, ca_key: Any, ca: x509.Certificate, caller: str) -> tuple[str, str]:
    """A client certificate signed by ``ca`` (not through the register), written as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = build_client_certificate(ca_key, ca, key.public_key(), caller, datetime.now(UTC) - timedelta(minutes=1), 30)
    cert_path, key_path = directory / f"{caller}.forged.pem", directory / f"{caller}.forged.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)


def with_uris(*uris: str) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "t")])
    now = datetime.now(UTC)
    builder = x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
    builder = builder.serial_number(1).not_valid_before(now).not_valid_after(now + timedelta(days=1))
    if uris:
        names = [x509.UniformResourceIdentifier(u) for u in uris]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(key, hashes.SHA256())


def test_a_certificate_names_its_caller_by_the_parsed_urn_only() -> None:
    assert caller_of(with_uris("urn:onewindow:caller:fangzhen-window")) == "fangzhen-window"
    assert caller_of(with_uris("https://x.example/", "URN:OneWindow:Caller:kiosk")) == "kiosk"
    for uris in (
        (),
        ("urn:onewindow:caller:a:b",),
        ("urn:onewindow:callers:a",),
        ("urn:onewindow:caller:",),
        ("urn:onewindow:caller:a", "urn:onewindow:caller:b"),
        ("xurn:onewindow:caller:a",),
    ):
        assert caller_of(with_uris(*uris)) is None, uris


def test_tls_settings_are_checked_together() -> None:
    assert parse_tls_settings({}).enabled is False
    for wrong in (
        {"client_certificates": "required"},
        {"tls_certificate": "c.pem"},
        {"tls_certificate": "c.pem", "tls_key": "k.pem", "client_certificates": "sometimes"},
    ):
        with pytest.raises(ConfigError, match="server\\."):
            parse_tls_settings(wrong)


def test_issuing_and_revoking_on_a_gateway_host_is_audited(onewindow, district, tmp_path) -> None:
    store_url = f"sqlite:///{tmp_path}/gw.db"
    config = str(write_config(tmp_path / "c.toml", store_url=store_url, district=district))
    assert onewindow("migrate", "--config", config)[0] == 0
    code, out = onewindow("client-cert", "issue", "fangzhen-kiosk", "--out", str(tmp_path), "--config", config)
    assert code == 0 and "admin.client_certificate.issued" in out, out
    code, out = onewindow("client-cert", "revoke", "fangzhen-kiosk", "--reason", "superseded", "--config", config)
    assert code == 0 and "admin.client_certificate.revoked" in out, out

    async def entries() -> list[tuple[str, dict[str, Any]]]:
        store = make_store(store_url)
        await store.open()
        try:
            rows = await store.read(
                "SELECT kind, entry FROM audit_entries WHERE kind LIKE 'admin.client%' ORDER BY seq"
            )
        finally:
            await store.close()
        return [(row[0], json.loads(row[1])["fields"]) for row in rows]

    found = asyncio.run(entries())
    assert [kind for kind, _ in found] == ["admin.client_certificate.issued", "admin.client_certificate.revoked"]
    assert found[1][1]["caller"] == "fangzhen-kiosk" and found[1][1]["reason"] == "superseded"
    assert found[0][1]["certificate_digest"] == found[1][1]["certificate_digest"]


def test_check_config_refuses_a_tls_key_that_is_not_the_certificates_in_one_line(
    onewindow, server_files, district, tmp_path
) -> None:
    other = tmp_path / "other.key.pem"
    other.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    nowhere = {code: {"base_url": "http://127.0.0.1:9/"} for code in AGENCIES}
    server = {"tls_certificate": server_files[0], "tls_key": str(other), "client_certificates": "required"}
    store_url = f"sqlite:///{tmp_path}/gw.db"
    config = write_config(tmp_path / "c.toml", store_url=store_url, district=district, server=server, agencies=nowhere)
    assert onewindow("migrate", "--config", str(config))[0] == 0
    code, out = onewindow("check-config", "--config", str(config))
    refusals = [line for line in out.splitlines() if "warning:" not in line]
    assert code == 2 and len(refusals) == 1 and "server.tls_certificate/tls_key" in refusals[0], out
    good = config.read_text(encoding="utf-8").replace(str(other), server_files[1])
    config.write_text(good, encoding="utf-8")
    code, out = onewindow("check-config", "--config", str(config))
    assert code == 0, out


@pytest.mark.skipif(shutil.which("curl") is None and not IN_CI, reason="curl is not installed")
async def test_the_curl_line_of_the_api_guide_submits_with_a_client_certificate(
    tls_gateway, onewindow, tmp_path
) -> None:
    site = await tls_gateway("required")
    certs = tmp_path / "certs"
    issue(onewindow, "fangzhen-window", certs)
    (tmp_path / "request.json").write_text(json.dumps(CLEARANCE, ensure_ascii=False), encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        *("curl", "-sS", "--cacert", "certs/district-root.pem"),
        *("--cert", "certs/fangzhen-window.cert.pem", "--key", "certs/fangzhen-window.key.pem"),
        *("-X", "POST", f"{site.url}/v1/requests"),
        *("-H", "Content-Type: application/json", "-H", "Idempotency-Key: 6a1f0c2e-window-0002"),
        *("-d", "@request.json", "-w", "\n%{http_code}"),
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    body, _, status = out.decode().rpartition("\n")
    assert status == "201", (out, err)
    assert json.loads(body)["status"] == "completed"


async def test_the_sample_district_made_at_first_start_has_a_server_certificate_for_this_machine(
    start_gateway, tmp_path
) -> None:
    pki = tmp_path / "sample" / "pki"
    gw = await start_gateway(
        pki_dir=str(pki), pki_passphrase_file=str(tmp_path / "sample" / "passphrase"), pki_create_sample=True
    )
    files = tmp_path / "sample" / "sample-tls"
    assert (files / "server.key.pem").stat().st_mode & 0o077 == 0
    tls = TlsSettings(certificate=str(files / "server.cert.pem"), key=str(files / "server.key.pem"))
    runner = make_runner(create_app(gw.gateway), gw.gateway.settings.http)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context(tls, str(pki)))
        await site.start()
        context = ssl.create_default_context(cafile=str(pki / "root/root-cert.pem"))  # checks 127.0.0.1 is named
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"https://127.0.0.1:{runner.addresses[0][1]}/healthz", ssl=context) as response,
        ):
            assert response.status == 200
    finally:
        await runner.cleanup()


async def test_a_caller_whose_methods_leave_out_mtls_is_refused_with_a_valid_certificate(
    tls_gateway, onewindow, district, tmp_path
) -> None:
    site = await tls_gateway("optional")
    cert, key, _ = issue(onewindow, "fangzhen-window", tmp_path / "window")
    settings = site.gateway.settings
    narrowed = tuple(
        dataclasses.replace(c, methods=tuple(m for m in c.methods if m != "mtls")) if c.id == "fangzhen-window" else c
        for c in settings.callers
    )
    site.gateway.settings = dataclasses.replace(settings, callers=narrowed)  # read again per request
    status, problem = await call(site, client_context(district, cert, key))
    assert status == 401 and problem["type"].endswith("unauthenticated"), problem
    assert "may not authenticate by mtls" in problem["detail"]
