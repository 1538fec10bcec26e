"""Fixtures for the seal tests: a sample district on disk, a trust bundle, a result document.

Nothing here is autouse, so the audit-log tests in this folder are unaffected.
Tests that depend on the key type parametrize the ``key_type`` fixture directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from signing.keys.passphrase import PASSPHRASE_ENV, PASSPHRASE_FILE_ENV, Passphrase
from signing.registry.sample import SAMPLE_OFFICES, create_sample_district
from signing.registry.seal_registry import SealRegistry
from signing.verify.pinning import TRUST_STORE_ENV
from signing.verify.trust import TrustBundle

SECRET = "correct horse battery staple"
OFFICE, OFFICE_NAME = SAMPLE_OFFICES[1]
ISSUED = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)


@pytest.fixture
def seal_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The passphrase in the environment, as operators provide it."""
    monkeypatch.setenv(PASSPHRASE_ENV, SECRET)
    monkeypatch.delenv(PASSPHRASE_FILE_ENV, raising=False)
    yield SECRET


@pytest.fixture
def key_type() -> str:
    """Key type of the sample district; tests that care parametrize ``key_type`` over both."""
    return "es384"


@pytest.fixture
def seal_registry(tmp_path: Path, seal_env: str, key_type: str) -> SealRegistry:
    """A fresh sample district (three offices, one seal of each kind per office)."""
    return create_sample_district(tmp_path / "pki", now=ISSUED, key_type=key_type)


def pinned_bundle(registry: SealRegistry, **export: Any) -> TrustBundle:
    """A freshly exported bundle of ``registry``, loaded with its root pinned (as a careful verifier does)."""
    bundle = registry.export_trust_bundle(**export)
    return TrustBundle.from_dict(bundle, root_fingerprint=bundle["root_sha256"])


@pytest.fixture
def trust(seal_registry: SealRegistry) -> TrustBundle:
    return pinned_bundle(seal_registry)


@pytest.fixture
def trust_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A trust store of the test's own (``$ONEWINDOW_TRUST_STORE``), empty: nothing pinned yet."""
    path = tmp_path / "config" / "trusted-roots.json"
    monkeypatch.setenv(TRUST_STORE_ENV, str(path))
    return path


@pytest.fixture(scope="session")
def passphrase() -> Passphrase:
    return Passphrase(SECRET.encode())


@pytest.fixture
def office() -> tuple[str, str]:
    """(code, name) of the sample office most tests seal for."""
    return OFFICE, OFFICE_NAME


@pytest.fixture
def result_doc() -> dict[str, Any]:
    """A typical ~1.5 KB tax payment record, as an agency plugin returns it."""
    return {
        "item": "tax.payment-record",
        "request_id": "01J9Z8Q4C8W3V1N6T5R2X7Y0AB",
        "office": OFFICE,
        "applicant": {"name": "张三", "id_number": "370303********1234"},
        "issuer": "国家税务总局淄博市张店区税务局",
        "records": [
            {"month": f"2024-{m:02d}", "tax_type": "个人所得税", "amount": 123.45 + m, "paid": True}
            for m in range(1, 13)
        ],
        "total": 1559.4,
        "remarks": None,
    }


@pytest.fixture
def sealed(seal_registry: SealRegistry, office: tuple[str, str]) -> dict[str, Any]:
    """A tax payment record sealed by the office's service-centre seal (tests.printouts.sealed_result)."""
    from tests.printouts import sealed_result

    return sealed_result(seal_registry, office)


@pytest.fixture
def pdf(seal_registry: SealRegistry, sealed: dict[str, Any]) -> bytes:
    """Its signed printout."""
    from tests.printouts import printout

    return printout(seal_registry, sealed)
