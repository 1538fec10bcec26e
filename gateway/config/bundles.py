"""The ``[bundles]`` section: which chained items (一链办理) the district offers.

``chains_file`` names the district's own chains file (TOML, ``[[chains]]``,
docs/plugins.md "Chains"); empty: the chains shipped with the gateway.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from gateway.config.values import refuse_unknown


@dataclass(frozen=True)
class BundleSettings:
    """Chained items offered at ``POST /v1/bundles``."""

    chains_file: str = ""  # the district's chains (TOML); empty: gateway/bundles/chains.toml


def parse_bundle_settings(table: Any) -> BundleSettings:
    """``[bundles]`` as :class:`BundleSettings`; ``ValueError`` naming the key when wrong."""
    if not isinstance(table, Mapping):
        raise ValueError("bundles: must be a table")
    refuse_unknown(table, tuple(f.name for f in fields(BundleSettings)), "bundles")
    value = table.get("chains_file", "")
    if not isinstance(value, str):
        raise ValueError("bundles.chains_file: expected a string (a path)")
    return BundleSettings(chains_file=value.strip())
