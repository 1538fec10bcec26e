"""Extranet egress: client certificates (mTLS) and a forward proxy per agency, against real servers."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import ssl
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gateway.agencies.extranet import Extranet
from gateway.contract import AgencyError, AgencyUnavailable, Completed
from gateway.errors import ConfigError
from gateway.sandbox import FaultKnobs
from plugins.tax import sandbox as tax_sandbox
from plugins.tax.client import TaxAgency
from tests.helpers import ORGANISATION, deadline, intake, named, sample_settings, with_agency
from tests.procs import refusing_port

QUERY = intake("tax.credit-grade", ORGANISATION, {"year": 2025})
SECRETS = tax_sandbox.spec().config["secrets"]


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    server_ip: str | None = None,
    client: bool = False,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, issuer_key = issuer or (_name(subject), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server_ip:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(server_ip))]), critical=False
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    if client:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey | None = None) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        path.with_suffix(".key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A throwaway extranet CA, the agency's server certificate for 127.0.0.1, and two client certificates:
    one from the CA the agency trusts and one from a stranger's CA."""
    root = tmp_path_factory.mktemp("extranet-pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _issue("Extranet test CA", ca_key, None, ca=True)
    stranger_key = ec.generate_private_key(ec.SECP256R1())
    stranger = _issue("Some other CA", stranger_key, None, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    client_key = ec.generate_private_key(ec.SECP256R1())
    rogue_key = ec.generate_private_key(ec.SECP256R1())
    paths = {name: root / f"{name}.pem" for name in ("ca", "stranger", "server", "client", "rogue")}
    _write(paths["ca"], ca)
    _write(paths["stranger"], stranger)
    _write(paths["server"], _issue("127.0.0.1", server_key, (ca.subject, ca_key), server_ip="127.0.0.1"), server_key)
    _write(paths["client"], _issue("onewindow-gateway", client_key, (ca.subject, ca_key), client=True), client_key)
    _write(
        paths["rogue"], _issue("onewindow-gateway", rogue_key, (stranger.subject, stranger_key), client=True), rogue_key
    )
    return paths


@pytest.fixture
async def tls_tax(pki):
    """The tax sandbox served over TLS, requiring a client certificate issued by the extranet CA."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["server"], pki["server"].with_suffix(".key"))
    context.load_verify_locations(pki["ca"])
    context.verify_mode = ssl.CERT_REQUIRED
    runner = web.AppRunner(tax_sandbox.create_app(FaultKnobs()), shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    yield f"https://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def _call(client: Extranet) -> object:
    agency = named(TaxAgency)
    try:
        return await client.call(
            "tax",
            "submit",
            lambda c: agency.submit(QUERY, c),
            dedupe_key=QUERY.request_id,
            deadline=deadline(5),
            item=QUERY.item,
        )
    finally:
        await client.close()


def _extranet(url: str, **values: object) -> Extranet:
    return Extranet(with_agency(sample_settings(), "tax", url, secrets=SECRETS, max_attempts=1, **values))


async def test_the_client_certificate_is_presented_and_the_agency_answers(tls_tax, pki) -> None:
    client = _extranet(
        tls_tax,
        ca_file=str(pki["ca"]),
        client_cert=str(pki["client"]),
        client_key=str(pki["client"].with_suffix(".key")),
    )
    assert isinstance(await _call(client), Completed)


async def test_without_a_client_certificate_the_agency_is_unavailable(tls_tax, pki) -> None:
    with pytest.raises(AgencyUnavailable):
        await _call(_extranet(tls_tax, ca_file=str(pki["ca"])))


async def test_a_client_certificate_from_another_ca_is_refused(tls_tax, pki) -> None:
    client = _extranet(
        tls_tax, ca_file=str(pki["ca"]), client_cert=str(pki["rogue"]), client_key=str(pki["rogue"].with_suffix(".key"))
    )
    with pytest.raises(AgencyUnavailable):
        await _call(client)


async def test_an_agency_certificate_not_from_the_configured_ca_is_refused(tls_tax, pki) -> None:
    client = _extranet(
        tls_tax,
        ca_file=str(pki["stranger"]),
        client_cert=str(pki["client"]),
        client_key=str(pki["client"].with_suffix(".key")),
    )
    with pytest.raises(AgencyUnavailable, match=r"(?i)certificate"):
        await _call(client)


def test_unreadable_certificate_files_stop_the_start_naming_the_agency(pki, tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"agencies\.tax\.client_cert"):
        _extranet("https://127.0.0.1:1", client_cert=str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError, match=r"agencies\.tax\.ca_file"):
        _extranet("https://127.0.0.1:1", ca_file=str(pki["client"].with_suffix(".key")))


# -- the egress proxy --------------------------------------------------------------------


class ForwardProxy:
    """A small HTTP forward proxy: takes absolute-URI requests, checks Proxy-Authorization, forwards them."""

    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        self.forwarded: list[str] = []
        self.refused = 0
        self.expected = (
            "Basic " + base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode() if credentials else None
        )
        self.session: aiohttp.ClientSession | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if not request.url.is_absolute() or request.raw_path.startswith("/"):
            return web.Response(status=400, text="not a proxy request (absolute URI expected)")
        if self.expected and request.headers.get("Proxy-Authorization") != self.expected:
            self.refused += 1
            return web.Response(status=407, headers={"Proxy-Authenticate": 'Basic realm="extranet"'})
        self.forwarded.append(f"{request.method} {request.raw_path}")
        hop_by_hop = {"proxy-authorization", "proxy-connection", "connection", "keep-alive", "host"}
        headers = {k: v for k, v in request.headers.items() if k.lower() not in hop_by_hop}
        assert self.session is not None
        async with self.session.request(
            request.method, request.raw_path, headers=headers, data=await request.read(), allow_redirects=False
        ) as upstream:
            body = await upstream.read()
            drop = {"content-length", "transfer-encoding", "connection", "content-encoding"}
            return web.Response(
                status=upstream.status,
                body=body,
                headers={k: v for k, v in upstream.headers.items() if k.lower() not in drop},
            )


@pytest.fixture
async def proxy():
    forward = ForwardProxy(credentials=("gateway", "extranet-pass"))
    forward.session = aiohttp.ClientSession(auto_decompress=False)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    forward.port = runner.addresses[0][1]  # type: ignore[attr-defined]
    yield forward
    await runner.cleanup()
    await forward.session.close()


@pytest.fixture
async def plain_tax():
    from gateway.sandbox import start_sandbox

    running = await start_sandbox(tax_sandbox.spec())
    yield running
    await running.stop()


async def test_calls_go_through_the_configured_proxy_with_its_credentials(proxy, plain_tax) -> None:
    client = _extranet(plain_tax.url, proxy=f"http://gateway:extranet-pass@127.0.0.1:{proxy.port}")
    assert isinstance(await _call(client), Completed)
    assert proxy.forwarded == ["POST " + plain_tax.url + "/api/v2/credit-grades/query"]
    assert proxy.refused == 0


async def test_with_the_proxy_down_the_agency_is_unavailable_although_it_is_up(plain_tax) -> None:
    with refusing_port() as port, pytest.raises(AgencyUnavailable):
        await _call(_extranet(plain_tax.url, proxy=f"http://127.0.0.1:{port}"))


async def test_wrong_proxy_credentials_are_not_a_success(proxy, plain_tax) -> None:
    client = _extranet(plain_tax.url, proxy=f"http://gateway:wrong@127.0.0.1:{proxy.port}")
    with pytest.raises(AgencyError):  # the proxy answers 407: never a completed call
        await _call(client)
    assert proxy.refused == 1 and proxy.forwarded == []


def test_a_client_key_without_its_certificate_is_a_configuration_error() -> None:
    from gateway.config import build_settings, load_settings

    data = dict(load_settings(environ={}).raw)
    data["agencies"] = {"tax": {"client_key": "/etc/onewindow/tax.key"}}
    with pytest.raises(ConfigError, match=r"agencies\.tax\.client_key"):
        build_settings(data, source="test")
