"""``onewindow seal ...``: the district PKI and the numbered seal registry.

Every command that changes the registry (``init-district``, ``issue``,
``revoke``, ``suspend``, ``reinstate``) then re-exports the signed trust
bundle to ``<pki>/trust-bundle.json``, the file gateways serve.  That needs
the root key; where it is not at hand the change still stands (a revocation
must never wait for it) and a warning on stderr says to re-export.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from signing.cli.acts import add_acts_command
from signing.cli.arguments import DEFAULT_PKI, PKI_ENV, open_registry, pki_dir, print_json, rfc3339_time
from signing.errors import SigningError
from signing.keys.algorithms import DEFAULT_KEY_TYPE, KEY_TYPES
from signing.keys.passphrase import MIN_PASSPHRASE_LENGTH, Passphrase, load_passphrase, load_root_passphrase
from signing.model import SealKind, format_time
from signing.pki.certificates import COMPROMISE_REASON_CODES, REASON_CODES, fingerprint


def _publish(registry: Any) -> None:
    """After a change: re-export ``trust-bundle.json``; warn (not fail: the change is made) if it cannot be."""
    try:
        bundle = registry.publish_trust_bundle()
    except (SigningError, OSError) as exc:
        print(
            f"warning: the change is made, but {registry.trust_bundle_path} was not re-exported ({exc}); "
            "run 'onewindow seal export-trust' where the root key is and copy the bundle to the gateways",
            file=sys.stderr,
        )
        return
    print(
        f"trust bundle re-exported to {registry.trust_bundle_path} ({len(bundle['seals'])} seals); "
        "copy it to the gateways with the registry"
    )


def _said_act(registry: Any) -> None:
    """Say where the change was recorded: the act log of the registry (no store is needed here)."""
    act = registry.acts()[-1]
    if "signature" in act:
        how = "signed by the district root"
    else:
        how = (
            "UNSIGNED: the district root key is not on this machine, or did not open with the root passphrase "
            "(where the root key is, the same change is recorded signed)"
        )
    print(f"act {act['seq']} ({act['kind']}) recorded in the registry's act log, {how}")


def cmd_init_district(args: argparse.Namespace) -> int:
    from signing.registry.seal_registry import SealRegistry

    registry = SealRegistry.create(
        pki_dir(args),
        district=args.district,
        district_name=args.district_name,
        valid_days=args.valid_days,
        key_type=args.key_type,
        by=args.by,
    )
    key_type = registry.root_key_type
    print(f"district root ({key_type.nist_name}, {key_type.alg}) created in {registry.directory}")
    print(f"root sha256: {_root_fingerprint(registry)}  (publish this for verifiers)")
    _said_act(registry)
    _publish(registry)
    return 0


def _root_fingerprint(registry: Any) -> str:
    from signing.pki.certificates import fingerprint

    return fingerprint(registry.root_certificate)


def cmd_sample(args: argparse.Namespace) -> int:
    from signing.registry.sample import create_sample_district

    registry = create_sample_district(pki_dir(args), key_type=args.key_type)
    for seal in registry.seals():
        print(f"{seal.number}  {seal.kind.value:<18}  {seal.office}  {seal.holder_name}")
    return 0


def cmd_issue(args: argparse.Namespace) -> int:
    registry = open_registry(args)
    seal = registry.issue(
        office=args.office,
        holder_name=args.name,
        kind=args.kind,
        number=args.number,
        scope=args.items or (),
        valid_days=args.valid_days,
        token=_token(args),
        key_type=args.key_type,
        by=args.by,
    )
    print(f"issued {seal.number} ({seal.kind.value}, {seal.key_type.alg}) to {seal.holder_name} [{seal.office}]")
    _said_act(registry)
    _publish(registry)
    return 0


def _token(args: argparse.Namespace) -> Any:
    if not args.pkcs11_module:
        return None
    from signing.keys.pkcs11 import TokenRef

    if not args.pkcs11_token:
        raise SigningError("--pkcs11-token is required with --pkcs11-module")
    return TokenRef(args.pkcs11_module, args.pkcs11_token, "")


def cmd_list(args: argparse.Namespace) -> int:
    registry = open_registry(args)
    seals = registry.seals()
    if args.json:
        print_json([seal.to_dict(include_key=False) for seal in seals])
        return 0
    root = fingerprint(registry.root_certificate)
    print(f"district {registry.district['code']} {registry.district['name']}; root sha256 {root}")
    print("(publish this fingerprint: verifiers pin it with `onewindow verify --root-fingerprint`)")
    print(f"{'NUMBER':<16} {'KIND':<18} {'ALG':<5} {'OFFICE':<12} {'STATUS':<9} {'VALID UNTIL':<20} HOLDER")
    for s in seals:
        until = format_time(s.not_after)
        print(
            f"{s.number:<16} {s.kind.value:<18} {s.key_type.alg:<5} {s.office:<12} "
            f"{s.status.value:<9} {until:<20} "
            f"{s.holder_name}  scope: {', '.join(s.scope) or 'all items'}"
        )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    seal = open_registry(args).get(args.number)
    data = seal.to_dict(include_key=False)
    data["key_backend"] = seal.key.get("backend")
    data["algorithm"] = seal.key_type.alg
    if args.stamp:
        from signing.fsutil import atomic_write
        from signing.stamp import render_stamp_svg

        svg = render_stamp_svg(seal.holder_name, seal.number, seal.kind.value)
        atomic_write(Path(args.stamp), svg.encode("utf-8"))
    if args.json:
        print_json(data)
        return 0
    for key in (
        "number",
        "kind",
        "office",
        "holder_name",
        "status",
        "not_before",
        "not_after",
        "serial",
        "certificate_sha256",
        "algorithm",
        "key_backend",
    ):
        print(f"{key:<19} {data[key]}")
    print(f"{'scope':<19} {', '.join(seal.scope) or 'all items of this kind'}")
    print("history:")
    for event in data["history"]:
        print(f"  {event['at']}  {event['status']:<9}  {event['reason']}")
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    registry = open_registry(args)
    seal = registry.revoke(args.number, args.reason, at=args.at, reason_code=args.code, by=args.by)
    print(f"revoked {seal.number} at {format_time(seal.history[-1].at)}: {args.reason}")
    _said_act(registry)
    if args.code in COMPROMISE_REASON_CODES:
        print(
            f"reason {args.code}: verifiers accept documents of this seal claimed before the revocation "
            "only with an audit-log proof from before it (REVOKED_NO_POE otherwise)"
        )
    _publish(registry)
    return 0


def cmd_suspend(args: argparse.Namespace) -> int:
    registry = open_registry(args)
    seal = registry.suspend(args.number, args.reason, at=args.at, by=args.by)
    print(f"suspended {seal.number} at {format_time(seal.history[-1].at)}")
    _said_act(registry)
    _publish(registry)
    return 0


def cmd_reinstate(args: argparse.Namespace) -> int:
    registry = open_registry(args)
    seal = registry.reinstate(args.number, args.reason, at=args.at, by=args.by)
    print(f"reinstated {seal.number} at {format_time(seal.history[-1].at)}")
    _said_act(registry)
    _publish(registry)
    return 0


def cmd_export_trust(args: argparse.Namespace) -> int:
    registry = open_registry(args)
    target = args.file or registry.trust_bundle_path
    bundle = registry.export_trust_bundle(target, crl_days=args.crl_days)
    print(f"trust bundle written to {target}: {len(bundle['seals'])} seals, root sha256 {bundle['root_sha256']}")
    return 0


def _read_passphrase_file(path: str) -> Passphrase:
    try:
        secret = Path(path).read_bytes().rstrip(b"\r\n")
    except OSError as exc:
        raise SigningError(f"cannot read passphrase file {path}: {exc.strerror}") from None
    if len(secret) < MIN_PASSPHRASE_LENGTH:
        raise SigningError(f"the passphrase in {path} must be at least {MIN_PASSPHRASE_LENGTH} bytes")
    return Passphrase(secret)


def cmd_rekey(args: argparse.Namespace) -> int:
    """Re-encrypt the root key and every file seal key under today's KDF, optionally under new passphrases."""
    from signing.registry.seal_keys import rekey_files
    from signing.registry.seal_registry import ROOT_KEY_FILE

    registry = open_registry(args)
    seal_old, root_old = load_passphrase(), load_root_passphrase()
    seal_new = _read_passphrase_file(args.new_seal_passphrase_file) if args.new_seal_passphrase_file else seal_old
    root_new = _read_passphrase_file(args.new_root_passphrase_file) if args.new_root_passphrase_file else root_old
    files = []
    if not args.seals_only:
        root_path = registry.directory / ROOT_KEY_FILE
        if not root_path.exists():
            raise SigningError(f"no district root key at {root_path}: run this where the root is, or pass --seals-only")
        files.append((root_path, root_old, root_new))
    files += [
        (registry.directory / seal.key["path"], seal_old, seal_new)
        for seal in registry.seals()
        if seal.key.get("backend") == "file"
    ]
    for done in rekey_files(files):
        print(f"{done.path}: {done.before} -> {done.after}")
    print(f"{len(files)} key file(s) re-encrypted; gateways need the new passphrase(s) from their next start")
    return 0


def _leaf(group: Any, name: str, func: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = group.add_parser(name, help=help_text, description=help_text)
    parser.add_argument(
        "--pki",
        metavar="DIR",
        help=f"seal registry directory (default ${PKI_ENV} or {DEFAULT_PKI})",
    )
    parser.set_defaults(func=func)
    return parser


def _key_type_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--key-type",
        choices=list(KEY_TYPES),
        default=DEFAULT_KEY_TYPE.name,
        help=f"{what} key: es384 (ECDSA P-384, default) or es256 (ECDSA P-256)",
    )


def _by_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--by", metavar="NAME", help="who acts, recorded in the act log (default: cli:<user>@<host>)")


def register(subparsers: Any) -> None:
    """Add ``seal`` and its subcommands to an argparse ``_SubParsersAction``."""
    seal = subparsers.add_parser("seal", help="district PKI and numbered seal registry")
    group = seal.add_subparsers(dest="seal_command", metavar="COMMAND", required=True)

    p = _leaf(group, "init-district", cmd_init_district, "create the district root CA")
    p.add_argument("--district", default="370303", help="6-digit district code")
    p.add_argument("--district-name", default="淄博市张店区行政审批服务局")
    p.add_argument("--valid-days", type=int, default=20 * 365)
    _key_type_option(p, "root")
    _by_option(p)

    p = _leaf(group, "sample", cmd_sample, "create a sample district with seals for three offices")
    _key_type_option(p, "root and seal")

    p = _leaf(group, "issue", cmd_issue, "issue a numbered seal to an office")
    p.add_argument("--office", required=True, help="12-digit office code")
    p.add_argument("--name", required=True, help="holder name as cut into the seal")
    p.add_argument("--kind", required=True, choices=[k.value for k in SealKind])
    p.add_argument("--number", help="sequence number or full seal number (default: next free)")
    p.add_argument(
        "--items",
        nargs="*",
        metavar="ITEM",
        help="item codes or prefixes like tax.* (default: all items of the kind)",
    )
    p.add_argument("--valid-days", type=int, default=3 * 365)
    p.add_argument("--pkcs11-module", help="keep the key on a PKCS#11 token (module path)")
    p.add_argument("--pkcs11-token", help="token label")
    _key_type_option(p, "seal")
    _by_option(p)

    p = _leaf(group, "list", cmd_list, "list every seal ever issued")
    p.add_argument("--json", action="store_true")

    p = _leaf(group, "show", cmd_show, "show one seal and its status history")
    p.add_argument("number")
    p.add_argument("--json", action="store_true")
    p.add_argument("--stamp", metavar="FILE", help="also write the seal picture (SVG)")

    for name, func, text in (
        ("revoke", cmd_revoke, "revoke a seal for good"),
        ("suspend", cmd_suspend, "suspend a seal until reinstated"),
        ("reinstate", cmd_reinstate, "lift a suspension"),
    ):
        p = _leaf(group, name, func, text)
        p.add_argument("number")
        p.add_argument("--reason", required=name != "reinstate", default="reinstated")
        p.add_argument("--at", type=rfc3339_time, help="effective time (default now)")
        _by_option(p)
        if name == "revoke":
            p.add_argument(
                "--code",
                choices=REASON_CODES,
                default="unspecified",
                help="CRL reason code (default unspecified); key_compromise, ca_compromise and unspecified "
                "make verifiers require an audit-log proof for documents claimed before the revocation",
            )

    p = _leaf(group, "rekey", cmd_rekey, "re-encrypt the root and seal keys under today's KDF (scrypt)")
    p.add_argument("--new-seal-passphrase-file", metavar="FILE", help="also change the seal keys' passphrase")
    p.add_argument("--new-root-passphrase-file", metavar="FILE", help="also change the root key's passphrase")
    p.add_argument("--seals-only", action="store_true", help="leave the root key alone (a gateway host has none)")

    p = _leaf(group, "export-trust", cmd_export_trust, "write the signed trust bundle (needs the root key)")
    p.add_argument("file", nargs="?", help="where to write it (default: trust-bundle.json in the registry directory)")
    p.add_argument("--crl-days", type=int, default=7, help="days until the CRL's next update")

    add_acts_command(group, _leaf)
