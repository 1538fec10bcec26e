"""Items no usable seal covers are told at start-up and in /readyz with the command that covers them."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli.main import main
from gateway.testing import captured_logs
from tests.conftest import make_district
from tests.helpers import PERSON, TOWN

MEDICAL = {
    "item": "medical.contribution-record",
    "applicant": PERSON,
    "materials": {"start_year": 2024, "end_year": 2025},
    "office": TOWN,
    "operator": "fz-window-01",
    "channel": "window",
}


async def test_uncovered_items_are_listed_in_readyz_with_the_seal_command_that_covers_them(
    start_gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pki, passphrase = make_district(tmp_path / "district", scope=("tax.*",))  # seals issued before the others
    with captured_logs() as log:
        gw = await start_gateway(pki_dir=str(pki), pki_passphrase_file=str(passphrase))
    report = await (await gw.client.get("/readyz")).json()
    assert report["ready"] is True and report["seals"]["ok"] is False  # every tax item is still served
    town = [gap for gap in report["seals"]["uncovered"] if gap["office"] == TOWN]
    service = next(gap for gap in town if gap["kind"] == "service_centre")
    assert "medical.contribution-record" in service["items"] and not any(i.startswith("tax.") for i in service["items"])
    assert "seals.items_uncovered" in log.getvalue() and service["fix"] in log.getvalue()
    refused = await gw.post(MEDICAL)
    assert refused.status == 503 and (await refused.json())["type"].endswith("/seal-unavailable")

    monkeypatch.setenv("ONEWINDOW_SEAL_PASSPHRASE_FILE", str(passphrase))
    command = service["fix"].split()
    assert command[:3] == ["onewindow", "seal", "issue"]
    assert main(command[1:]) == 0  # exactly what /readyz says, where the root key is
    assert (await gw.post(MEDICAL)).status == 201


async def test_the_sample_district_covers_newly_installed_items_itself(start_gateway, tmp_path: Path) -> None:
    pki, passphrase = make_district(tmp_path / "district", scope=("tax.*",))
    with captured_logs() as log:
        gw = await start_gateway(pki_dir=str(pki), pki_passphrase_file=str(passphrase), pki_create_sample=True)
    report = await (await gw.client.get("/readyz")).json()
    assert report["seals"] == {"ok": True, "uncovered": []}
    assert "pki.sample_seals_issued" in log.getvalue()
    body = await (await gw.post(MEDICAL)).json()
    assert body["status"] == "completed" and body["result"]["seal"]["number"]
