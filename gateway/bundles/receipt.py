"""The bundle receipt: one sealed document naming the sealed result of every step.

Each step's result is sealed on its own, by the seal its item requires;
the receipt ties them together for the applicant -- which chain, which
steps, in which order, each step's request id, agency reference, seal
number and the digest of its sealed result -- under the accepting
office's service-centre seal, so anyone can check a step's result belongs
to the chain the receipt names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from gateway.bundles.chains import Chain
from gateway.catalogue.items import Item
from gateway.config import Office
from gateway.store import BundleRecord, RequestRecord
from signing.audit.entry import document_digest

RECEIPT_TYPE = "onewindow.bundle-receipt.v1"


def receipt_item(chain: Chain, first: Item) -> Item:
    """What the receipt is sealed as: item ``bundle.<chain>``, under the service-centre seal."""
    return dataclasses.replace(
        first, code=f"bundle.{chain.code}", name_zh=chain.name_zh, name_en=chain.name_en, seal="service_centre"
    )


def receipt_document(
    bundle: BundleRecord,
    chain: Chain,
    items: Sequence[Item],
    steps: Sequence[RequestRecord],
    office: Office,
    proxy: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The receipt to seal once every step of ``bundle`` completed."""
    applicant = bundle.body.get("applicant") or {}
    named = []
    for n, (item, record) in enumerate(zip(items, steps, strict=True), start=1):
        sealed = (record.result or {}).get("document") or {}
        named.append(
            {
                "position": n,
                "item": item.code,
                "item_name": {"zh": item.name_zh, "en": item.name_en},
                "request_id": record.id,
                "agency": item.agency,
                "agency_reference": record.agency_reference,
                "seal_number": (sealed.get("seal") or {}).get("number"),
                "document_digest": document_digest(sealed),
            }
        )
    document: dict[str, Any] = {
        "document_type": RECEIPT_TYPE,
        "bundle_id": bundle.id,
        "item": f"bundle.{chain.code}",
        "chain": chain.code,
        "chain_name": {"zh": chain.name_zh, "en": chain.name_en},
        "office": {"code": office.code, "name": office.name},
        "applicant": {
            "kind": applicant.get("kind"),
            "name": str(applicant.get("name", "")).strip(),
            "id_number": str(applicant.get("id_number", "")).upper(),
        },
        "steps": named,
        "issued_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if proxy is not None:
        document["proxy"] = dict(proxy)
    return document
