"""``onewindow client-cert ...`` and ``onewindow server-cert issue``: TLS certificates from the district root.

Issuing needs the district root key (on the bureau's machine, or the sample
district's own): its passphrase is ``$ONEWINDOW_ROOT_PASSPHRASE(_FILE)``,
else the seal passphrase's variables, else the configuration's
``pki.passphrase_file``. Revoking needs no key: the register in the PKI
directory is changed, and every gateway reading that directory refuses the
certificate from its next request on.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.audit.admin import record_admin_act
from gateway.cli.config import add_config_option, settings_of
from gateway.config import Settings
from gateway.errors import CommandError
from signing.fsutil import atomic_write
from signing.keys.passphrase import (
    PASSPHRASE_ENV,
    PASSPHRASE_FILE_ENV,
    ROOT_PASSPHRASE_ENV,
    ROOT_PASSPHRASE_FILE_ENV,
    Passphrase,
    load_root_passphrase,
)
from signing.registry.seal_registry import SealRegistry
from signing.registry.tls_register import Issued, TlsCertificate, TlsRegister

_PASSPHRASE_VARIABLES = (ROOT_PASSPHRASE_ENV, ROOT_PASSPHRASE_FILE_ENV, PASSPHRASE_ENV, PASSPHRASE_FILE_ENV)


def root_passphrase(settings: Settings) -> Passphrase:
    """The district root key's passphrase: the environment's, else ``pki.passphrase_file``."""
    if any(name in os.environ for name in _PASSPHRASE_VARIABLES) or not settings.pki_passphrase_file:
        return load_root_passphrase()
    path = Path(settings.pki_passphrase_file)
    try:
        return Passphrase(path.read_bytes().rstrip(b"\r\n"))
    except OSError as exc:
        raise CommandError(f"cannot read pki.passphrase_file {path}: {exc.strerror}") from None


def _audit(args: argparse.Namespace, settings: Settings, kind: str, **fields: Any) -> None:
    """On a gateway host (``--config`` or ``$ONEWINDOW_CONFIG``), record the act in its audit log too.

    The bureau's machine has no store: there the act is only in the register, as a seal's is in the registry.
    """
    if not (args.config or os.environ.get("ONEWINDOW_CONFIG")):
        return
    asyncio.run(record_admin_act(settings, kind, **fields))
    print(f"Recorded in the audit log as admin.{kind}.")


def _write_issued(issued: Issued, out: Path, name: str, root_pem: bytes) -> tuple[Path, Path]:
    """The key (mode 0600) and certificate in ``out``, with the district root beside them; refuses to overwrite."""
    key_path, cert_path = out / f"{name}.key.pem", out / f"{name}.cert.pem"
    for path in (key_path, cert_path):
        if path.exists():
            raise CommandError(f"{path} exists: choose another --out directory, or move it away first")
    atomic_write(key_path, issued.key_pem, mode=0o600)
    atomic_write(cert_path, issued.certificate_pem)
    atomic_write(out / "district-root.pem", root_pem)
    return key_path, cert_path


def _digest(entry: TlsCertificate) -> str:
    return f"sha256:{entry.sha256}"


def _open(settings: Settings) -> tuple[SealRegistry, TlsRegister]:
    registry = SealRegistry.open(settings.pki_dir)
    return registry, TlsRegister(settings.pki_dir)


def _root_pem(registry: SealRegistry) -> bytes:
    return (registry.directory / "root/root-cert.pem").read_bytes()


def cmd_client_issue(args: argparse.Namespace) -> int:
    """``onewindow client-cert issue CALLER --out DIR``."""
    settings = settings_of(args)
    if args.caller not in {c.id for c in settings.callers} and not args.any_caller:
        raise CommandError(
            f"no caller {args.caller[:80]!r} in {settings.source}: add its [[callers]] table first "
            "(or pass --any-caller to issue for a caller another gateway's configuration declares)"
        )
    registry, register = _open(settings)
    issued = register.issue_client(
        registry, args.caller, root_passphrase=root_passphrase(settings), valid_days=args.days
    )
    key_path, cert_path = _write_issued(issued, Path(args.out), args.caller, _root_pem(registry))
    entry = issued.entry
    until = f"{entry.not_after:%Y-%m-%d}"
    print(f"Client certificate for caller {entry.subject}: serial {entry.serial}, valid until {until}")
    print(f"  certificate: {cert_path}")
    print(f"  key:         {key_path}   (give it to the intake system only; it is not kept)")
    print(f"  district CA: {Path(args.out) / 'district-root.pem'}   (to check the gateway's server certificate)")
    _audit(args, settings, "client_certificate.issued", caller=entry.subject, certificate_digest=_digest(entry))
    return 0


def cmd_client_list(args: argparse.Namespace) -> int:
    """``onewindow client-cert list``: every client certificate, with its state now."""
    settings = settings_of(args)
    now = datetime.now(UTC)
    rows = [c for c in TlsRegister(settings.pki_dir).certificates() if c.kind == "client" or args.all]
    if not rows:
        print("No TLS certificates issued yet ('onewindow client-cert issue CALLER --out DIR').")
        return 0
    print(f"{'serial':<40} {'kind':<6} {'subject':<24} {'not after':<10} state")
    for cert in rows:
        state = cert.state(now) + (f" ({cert.reason})" if cert.revoked_at else "")
        print(f"{cert.serial:<40} {cert.kind:<6} {cert.subject:<24} {cert.not_after:%Y-%m-%d} {state}")
    return 0


def cmd_client_revoke(args: argparse.Namespace) -> int:
    """``onewindow client-cert revoke SERIAL|CALLER``: refused by every gateway from its next request."""
    settings = settings_of(args)
    revoked = TlsRegister(settings.pki_dir).revoke(args.certificate, reason=args.reason)
    if not revoked:
        print(f"Nothing to revoke: {args.certificate[:80]} is revoked already.")
        return 0
    for cert in revoked:
        print(f"Revoked {cert.kind} certificate {cert.serial} ({cert.subject}): {cert.reason}")
        fields = {"caller": cert.subject} if cert.kind == "client" else {}
        _audit(
            args,
            settings,
            f"{cert.kind}_certificate.revoked",
            **fields,
            certificate_digest=_digest(cert),
            reason=cert.reason,
        )
    return 0


def cmd_server_issue(args: argparse.Namespace) -> int:
    """``onewindow server-cert issue --host H [--host H2] --out DIR``."""
    settings = settings_of(args)
    registry, register = _open(settings)
    issued = register.issue_server(registry, args.host, root_passphrase=root_passphrase(settings), valid_days=args.days)
    key_path, cert_path = _write_issued(issued, Path(args.out), "server", _root_pem(registry))
    print(f"Server certificate for {', '.join(args.host)}: serial {issued.entry.serial}")
    print(f'  [server] tls_certificate = "{cert_path}"')
    print(f'           tls_key = "{key_path}"')
    _audit(
        args,
        settings,
        "server_certificate.issued",
        hosts=issued.entry.subject,
        certificate_digest=_digest(issued.entry),
    )
    return 0


def register(sub: Any) -> None:
    """Add ``client-cert`` and ``server-cert`` to the ``onewindow`` command."""
    client = sub.add_parser("client-cert", help="issue, list and revoke intake callers' TLS client certificates")
    client_sub = client.add_subparsers(dest="client_cert_command", required=True, metavar="COMMAND")
    issue = add_config_option(client_sub.add_parser("issue", help="issue a client certificate naming a caller"))
    issue.add_argument("caller", help="the caller id ([[callers]] id)")
    issue.add_argument("--out", required=True, metavar="DIR", help="where to write CALLER.key.pem and CALLER.cert.pem")
    issue.add_argument("--days", type=int, default=365, help="validity in days (default 365)")
    issue.add_argument("--any-caller", action="store_true", help="issue for a caller this configuration lacks")
    issue.set_defaults(func=cmd_client_issue)
    listing = add_config_option(client_sub.add_parser("list", help="list client certificates and their state"))
    listing.add_argument("--all", action="store_true", help="server certificates too")
    listing.set_defaults(func=cmd_client_list)
    revoke = add_config_option(
        client_sub.add_parser("revoke", help="revoke a certificate by serial, or every one of a caller")
    )
    revoke.add_argument("certificate", metavar="SERIAL|CALLER")
    revoke.add_argument("--reason", default="unspecified", help="why (key_compromise, superseded ...)")
    revoke.set_defaults(func=cmd_client_revoke)
    server = sub.add_parser("server-cert", help="issue the gateway's TLS server certificate from the district root")
    server_sub = server.add_subparsers(dest="server_cert_command", required=True, metavar="COMMAND")
    server_issue = add_config_option(server_sub.add_parser("issue", help="issue a server certificate"))
    server_issue.add_argument("--host", action="append", required=True, help="a host name or IP address (repeat)")
    server_issue.add_argument("--out", required=True, metavar="DIR", help="where to write server.key.pem, .cert.pem")
    server_issue.add_argument("--days", type=int, default=365, help="validity in days (default 365)")
    server_issue.set_defaults(func=cmd_server_issue)
