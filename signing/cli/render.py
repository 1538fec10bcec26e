"""``onewindow render RESULT.json --out FILE.pdf``: the printout of a sealed result, offline.

From the sealed JSON alone (or the request resource carrying it) and the
seal registry that holds the seal's key: the same signed PDF/A-3b printout
``GET /v1/requests/{id}/document.pdf`` gives.  The layout is the item's
catalogue entry when the gateway is installed (its ``onewindow`` passes
them in), a layout file (``--layout``, TOML or JSON), or the generic one.
The document must verify against the registry first, and its seal must be
usable now: nothing else is printed.
"""

from __future__ import annotations

import argparse
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from signing.cli.arguments import DEFAULT_PKI, PKI_ENV, pki_dir
from signing.errors import IJsonError, LayoutError, SigningError
from signing.fsutil import atomic_write
from signing.jose import ijson
from signing.printout.layout import GENERIC, Layout, parse_layout
from signing.verify.reading import MAX_MEMBERS, unwrap_request_resource

LayoutSource = Callable[[str], Layout | None]


def _read_document(path: str) -> dict[str, Any]:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SigningError(f"cannot read {path}: {exc.strerror}") from None
    try:
        document, _ = unwrap_request_resource(ijson.loads(data, max_members=MAX_MEMBERS))
    except (IJsonError, ValueError) as exc:
        raise SigningError(f"{path} is not a sealed result: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("seal"), dict):
        raise SigningError(f"{path} is not a sealed result (no seal block)")
    return document


def _layout_file(path: str) -> Layout:
    try:
        text = Path(path).read_bytes()
        data = tomllib.loads(text.decode("utf-8")) if path.endswith(".toml") else ijson.loads(text)
    except OSError as exc:
        raise SigningError(f"cannot read layout {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, IJsonError) as exc:
        raise SigningError(f"layout {path} is not {'TOML' if path.endswith('.toml') else 'JSON'}: {exc}") from None
    table = data.get("printout", data) if isinstance(data, dict) else data
    try:
        return parse_layout(table, f"layout {path}")
    except LayoutError as exc:
        raise SigningError(str(exc)) from None


def cmd_render(args: argparse.Namespace, layouts: LayoutSource | None) -> int:
    from signing.printout.render import PrintoutOptions, render_printout
    from signing.registry.seal_registry import SealRegistry

    document = _read_document(args.file)
    if args.layout:
        layout = _layout_file(args.layout)
    else:
        layout = (layouts(str(document.get("item"))) if layouts else None) or GENERIC
    registry = SealRegistry.open(pki_dir(args))
    try:
        seal = registry.get(str(document["seal"].get("number")))
        signer = registry.signer_for(seal)
        options = PrintoutOptions(public_url=args.public_url, timestamp_url=args.timestamp_url, font=args.font)
        pdf = render_printout(document, signer, seal, registry.trust_view(), options, layout=layout)
    finally:
        registry.close()
    atomic_write(Path(args.out), pdf, mode=0o644)
    level = "PAdES-B-T" if args.timestamp_url else "PAdES-B-B"
    which = "generic layout" if not layout.declared else f"layout {layout.title or 'of the item'}"
    print(f"wrote {args.out} ({len(pdf)} bytes, {which}, signed {level} by seal {seal.number})")
    return 0


def register(subparsers: Any, layouts: LayoutSource | None = None) -> None:
    """Add ``render``; ``layouts`` maps an item code to its catalogue layout (the gateway's catalogue)."""
    p = subparsers.add_parser(
        "render",
        help="print a sealed result as a signed PDF/A printout, offline",
        description="Render a sealed result (or the request resource carrying it) as the signed PDF printout the "
        "applicant takes home: the item's layout, the seal drawn as the stamp, a QR code to the verification page, "
        "PAdES-signed with the same seal, the sealed JSON attached (PDF/A-3b). The document must verify against the "
        "registry and its seal must be usable now.",
    )
    p.add_argument("file", help="the sealed result, or the request resource whose 'result' it is")
    p.add_argument("--out", required=True, metavar="FILE.pdf", help="where to write the printout")
    p.add_argument(
        "--public-url",
        required=True,
        metavar="URL",
        help="the gateway's public base URL: the QR code opens URL/verify?request=...&digest=...",
    )
    p.add_argument("--pki", metavar="DIR", help=f"seal registry directory (default ${PKI_ENV} or {DEFAULT_PKI})")
    p.add_argument("--layout", metavar="FILE", help="a layout file (TOML or JSON, as [items.printout] declares one)")
    p.add_argument("--timestamp-url", metavar="URL", help="an RFC 3161 time-stamping authority: PAdES-B-T")
    p.add_argument(
        "--font",
        metavar="PATH[#INDEX]",
        help="the CJK TrueType font (default $ONEWINDOW_PRINTOUT_FONT or the first installed: fonts-wqy-zenhei)",
    )
    p.set_defaults(func=lambda args: cmd_render(args, layouts))
