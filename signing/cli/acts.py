"""``onewindow seal acts``: the registry's act log, each act checked against the district root.

Reads the act log of a registry directory (``--pki``) or of an exported
trust bundle (``--trust``), and checks every act: its signature by the root,
its place (numbered without gaps) and its link to the act before it
(:func:`signing.registry.acts.check_acts`). Exit 0 when every act holds
(an act made where the root key was not is listed as unsigned), 1 when one
does not, 2 on bad input.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from signing.cli.arguments import open_registry, print_json


def cmd_acts(args: argparse.Namespace) -> int:
    from signing.pki.certificates import fingerprint
    from signing.registry.acts import check_acts

    if args.trust:
        from signing.verify.trust import load_trust_bundle

        bundle = load_trust_bundle(args.trust, root_fingerprint=args.root_fingerprint)
        root, district, acts = bundle.root, bundle.district, bundle.acts
        pinned = args.root_fingerprint is not None
    else:
        registry = open_registry(args)
        root, district, acts = registry.root_certificate, registry.district, registry.acts()
        pinned = True  # the registry's own root
    checks = check_acts(acts, root, district["code"])
    ok = all(check.ok for check in checks)
    if args.json:
        print_json(
            {"district": district, "root_sha256": fingerprint(root), "ok": ok, "acts": [c.to_dict() for c in checks]}
        )
        return 0 if ok else 1
    print(f"district {district['code']} {district.get('name', '')}; root sha256 {fingerprint(root)}")
    if not pinned:
        print(
            "note: the root is not pinned: compare its fingerprint with the one the bureau publishes, "
            "or pass --root-fingerprint"
        )
    for check in checks:
        print(_line(check))
    unsigned = sum(1 for check in checks if check.ok and not check.signed)
    if ok:
        extra = f" ({unsigned} unsigned: made where the root key was not)" if unsigned else ""
        print(f"VALID: {len(checks)} act(s), each in its place and chained to the one before{extra}")
    else:
        print(f"INVALID: {sum(1 for c in checks if not c.ok)} of {len(checks)} act(s) do not hold")
    return 0 if ok else 1


def _line(check: Any) -> str:
    act = check.act
    fields = act.get("fields") if isinstance(act.get("fields"), dict) else {}
    told = " ".join(f"{k}={v}" for k, v in sorted(fields.items()) if v not in (None, "", []))
    state = "signed" if check.signed else "unsigned"
    if not check.ok:
        state = f"INVALID ({check.problem})"
    where = f"#{act.get('seq', '?'):<4} {act.get('at', '?'):<27} {act.get('kind', '?'):<22}"
    return f"{where} by {act.get('by', '?')}  {state}  {told}"


def add_acts_command(group: Any, leaf: Callable[..., argparse.ArgumentParser]) -> None:
    """Add ``seal acts`` to the ``seal`` group (``leaf`` adds ``--pki``)."""
    p = leaf(group, "acts", cmd_acts, "list the registry's act log and check each act against the district root")
    p.add_argument("--trust", metavar="BUNDLE", help="read the acts of an exported trust bundle instead of --pki")
    p.add_argument("--root-fingerprint", metavar="SHA256", help="the district root the bundle must carry (pinned)")
    p.add_argument("--json", action="store_true")
