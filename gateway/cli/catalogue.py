"""``onewindow catalog list|show|chains``: the service catalogue, each item's service guide, the chains."""

from __future__ import annotations

import argparse
import json
from typing import Any

from gateway.bundles.guide import chain_guide
from gateway.catalogue.items import CHANNELS, ITEM_KINDS, OFFICE_LEVELS
from gateway.cli.config import add_config_option, installed_agencies, settings_of
from gateway.errors import CommandError
from gateway.startup import district_chains


def cmd_catalog_list(args: argparse.Namespace) -> int:
    """``onewindow catalog list``: one line per item, or JSON."""
    registry = installed_agencies(settings_of(args))
    if args.agency is not None and args.agency not in registry.agencies:
        raise CommandError(
            f"no agency {args.agency!r} is installed (or it is disabled in [plugins]); installed: "
            f"{', '.join(sorted(registry.agencies)) or 'none'}"
        )
    items = registry.catalogue.filter(
        agency=args.agency, office_level=args.office_level, channel=args.channel, kind=args.kind
    )
    if args.json:
        print(json.dumps([i.summary() for i in items], ensure_ascii=False, indent=2))
        return 0
    width = max((len(i.code) for i in items), default=10)
    for item in items:
        flags = ("长" if item.long_running else " ") + ("批" if item.seal == "delegated_approval" else " ")
        print(f"{item.code:<{width}}  {flags}  {item.time_limit_days:>2}d  {item.name_zh}")
    print(f"{len(items)} item(s). 长 = long-running, 批 = numbered approval seal; d = promised working days.")
    return 0


def cmd_catalog_show(args: argparse.Namespace) -> int:
    """``onewindow catalog show ITEM``: the item's service guide."""
    settings = settings_of(args)
    item = installed_agencies(settings).catalogue.get(args.item)
    if item is None:
        raise CommandError(f"no catalogue item is called {args.item!r} (see 'onewindow catalog list')")
    guide = item.guide()
    if args.json:
        print(json.dumps(guide, ensure_ascii=False, indent=2))
        return 0
    print(f"{item.code}  {item.name_zh} / {item.name_en}")
    print(
        f"  agency {item.agency}; {item.kind}; seal {item.seal}; promised {item.time_limit_days} working day(s)"
        + ("; long-running" if item.long_running else "")
    )
    print(f"  office levels: {', '.join(item.office_levels)}; channels: {', '.join(item.channels)}")
    for title, lines in (("conditions", item.conditions_zh), ("legal basis", item.legal_basis), ("steps", item.steps)):
        print(f"  {title}:")
        for n, line in enumerate(lines, 1):
            print(f"    {n}. {line}")
    print("  materials:")
    for m in item.materials:
        pledge = " (a pledge may replace it)" if m.name in item.pledge_replaces else ""
        notes = "; ".join(m.constraint_notes(settings.max_attachment_bytes))
        print(
            f"    - {m.name} [{m.type}{', required' if m.required else ''}] {m.description_zh}"
            + (f" — {notes}" if notes else "")
            + pledge
        )
    if item.rules:
        print("  rules across materials:")
        for rule in item.rules:
            print(f"    - {rule.statement_en} ({rule.statement_zh})")
    return 0


def cmd_catalog_chains(args: argparse.Namespace) -> int:
    """``onewindow catalog chains``: the chained items (一链办理) offered, each step and what feeds it."""
    settings = settings_of(args)
    catalogue = installed_agencies(settings).catalogue
    chains, left_out = district_chains(settings, catalogue)
    guides = [chain_guide(chain, catalogue) for chain in chains.values()]
    if args.json:
        print(json.dumps(guides, ensure_ascii=False, indent=2))
        return 0
    for guide in guides:
        print(f"{guide['code']}  {guide['name_zh']} / {guide['name_en']}  ({guide['time_limit_days']}d in all)")
        for step in guide["steps"]:
            print(f"  {step['position']}. {step['item']}  {step['name_zh']}")
            for feed in step["fed_by_chain"]:
                print(f"       {feed['material']} <- step {feed['from_step']} {feed['field']}")
    for chain in left_out:
        print(f"not offered: {chain}")
    print(f"{len(guides)} chain(s); POST /v1/bundles runs one (docs/api.md).")
    return 0


def register(sub: Any) -> None:
    """Add ``catalog list``, ``catalog show`` and ``catalog chains`` to the ``onewindow`` command."""
    catalog = sub.add_parser("catalog", help="list items and show service guides")
    catalog_sub = catalog.add_subparsers(dest="catalog_command", required=True, metavar="COMMAND")
    listing = add_config_option(catalog_sub.add_parser("list", help="list catalogue items"))
    listing.add_argument("--agency")
    listing.add_argument("--office-level", choices=OFFICE_LEVELS)
    listing.add_argument("--channel", choices=CHANNELS)
    listing.add_argument("--kind", choices=ITEM_KINDS)
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=cmd_catalog_list)
    show = add_config_option(catalog_sub.add_parser("show", help="show one item's service guide"))
    show.add_argument("item", help="item code, e.g. tax.payment-record")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=cmd_catalog_show)
    chains = add_config_option(catalog_sub.add_parser("chains", help="list the chained items (一链办理)"))
    chains.add_argument("--json", action="store_true", help="print JSON")
    chains.set_defaults(func=cmd_catalog_chains)
