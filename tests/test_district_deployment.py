"""A district other than the sample deploys from the documentation alone, and its results name its own agencies.

示范区 (370399, fictitious) makes its PKI with the ``seal`` commands, its
audit key with ``audit init-key``, writes its configuration the way
docs/configuration.md shows (its offices, callers and the names of its
agencies), passes ``check-config`` and runs ``onewindow serve``. The agency
systems are the sandboxes, which imitate Zhangdian's: what they answer is
the agency's answer (``content``), but nothing of Zhangdian may appear
anywhere the gateway writes into the sealed result.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.agencies.installed import load_registry
from gateway.agencies.plugin_manager import plugin_manager
from gateway.agencies.sandboxes import sandbox_specs
from gateway.callers.signing_client import SigningKey, read_key_file, sign
from gateway.config import load_settings
from gateway.testing.samples import envelope_for
from tests.procs import Process, run_cli

ZHANGDIAN = ("张店", "Zhangdian", "淄博", "Zibo", "370303")
PERSON = {"kind": "person", "id_number": "370399199203154126", "name": "周文静"}  # born in 示范区 (sample data)
TOWN, VILLAGE = "370399100000", "370399100201"
# 示范区's agencies, as its configuration names them. SAMPLE DATA: invented names and credit codes.
AGENCIES: dict[str, dict[str, str]] = {
    "tax": {
        "name_zh": "国家税务总局示范区税务局",
        "name_en": "Shifan District Tax Bureau, State Taxation Administration",
        "authority_zh": "国家税务总局示范区税务局第一税务所",
        "authority_en": "First Tax Office, Shifan District Tax Bureau",
        "credit_code": "11370399MB0B01234D",
    },
    "social_security": {
        "name_zh": "示范区人力资源和社会保障局",
        "name_en": "Shifan District Human Resources and Social Security Bureau",
        "authority_zh": "示范区社会保险事业中心",
        "authority_en": "Shifan District Social Insurance Service Centre",
        "credit_code": "11370399MB0B02345E",
    },
    "medical": {
        "name_zh": "示范区医疗保障局",
        "name_en": "Shifan District Medical Insurance Bureau",
        "authority_zh": "示范区医疗保险事业中心",
        "authority_en": "Shifan District Medical Insurance Service Centre",
        "credit_code": "11370399MB0B03456F",
    },
    "housing_fund": {
        "name_zh": "示范市住房公积金管理中心示范区管理部",
        "name_en": "Shifan Housing Provident Fund Centre, District Office",
        "authority_zh": "示范市住房公积金管理中心示范区管理部",
        "authority_en": "Shifan Housing Provident Fund Centre, District Office",
        "credit_code": "11370399MB0B04567G",
    },
    "property": {
        "name_zh": "示范区不动产登记中心",
        "name_en": "Shifan District Real Estate Registration Centre",
        "authority_zh": "示范区自然资源局",
        "authority_en": "Shifan District Natural Resources Bureau",
        "credit_code": "11370399MB0B05678H",
    },
}
# One item per agency, public service and numbered approval seals both, one decided later.
ITEMS = (
    "tax.payment-record",
    "social_security.payment-certificate",
    "medical.contribution-record",
    "housing_fund.deposit-certificate",
    "property.holdings-query",
    "property.title-reissue",
)


def toml(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, bool) else str(value).lower()


def district_configuration(workdir: Path, pki: Path, passphrase: Path, sandboxes: dict[str, str]) -> str:
    """The configuration as an operator writes it from docs/configuration.md."""
    lines = [
        "# 示范区 (370399): a district of its own. SAMPLE DATA: invented codes and names.",
        "[server]",
        'host = "127.0.0.1"',
        "port = 0",
        "[store]",
        f"url = {toml(f'sqlite:///{workdir}/onewindow.db')}",
        "[logging]",
        'level = "warning"',
        "[pki]",
        f"dir = {toml(str(pki))}",
        f"passphrase_file = {toml(str(passphrase))}",
        "",
        "[[offices]]",
        f'code = "{TOWN}"',
        'name = "示范镇便民服务中心"',
        'level = "town"',
        "[[offices]]",
        f'code = "{VILLAGE}"',
        'name = "示范镇前进村便民服务站"',
        'level = "village_station"',
        "",
        "[[callers]]",
        'id = "shifan-window"',
        'name = "示范镇便民服务中心综合受理窗口"',
        f'office = "{TOWN}"',
        'channel = "window"',
        'items = ["*"]',
        "[[callers]]",
        'id = "qianjin-station"',
        f'office = "{VILLAGE}"',
        'channel = "village_station"',
        'items = ["tax.payment-record", "social_security.*", "medical.contribution-record"]',
    ]
    demo = {spec.agency: spec.config for spec in sandbox_specs(plugin_manager())}
    for code, names in AGENCIES.items():
        lines += ["", f"[agencies.{code}]", *(f"{key} = {toml(value)}" for key, value in names.items())]
        lines.append(f"base_url = {toml(sandboxes[code])}")
        for table in ("secrets", "options"):
            if demo[code].get(table):
                lines.append(f"[agencies.{code}.{table}]")
                lines += [f"{key} = {toml(value)}" for key, value in demo[code][table].items()]
    return "\n".join(lines) + "\n"


async def cli(*args: str) -> str:
    status, out, err = await run_cli(*args, timeout=120)
    assert status == 0, f"onewindow {' '.join(args)}: {out}{err}"
    return out


async def make_pki(pki: Path) -> None:
    """The district PKI, made with the seal commands as docs/seals.md shows."""
    await cli(
        "seal", "init-district", "--pki", str(pki), "--district", "370399", "--district-name", "示范区行政审批服务局"
    )
    for office, name in ((TOWN, "示范镇便民服务中心"), (VILLAGE, "示范镇前进村便民服务站")):
        for kind in ("service_centre", "delegated_approval"):
            await cli("seal", "issue", "--pki", str(pki), "--office", office, "--name", name, "--kind", kind)


async def start_sandboxes(workdir: Path) -> tuple[Process, dict[str, str]]:
    """Every agency's sandbox in a process of its own, on free ports; the registration centre decides quickly."""
    process = Process(
        "sandboxes", ["sandbox", "run", "--port", "0", "--option", "property.decision_delay_s=0.2"], workdir
    )
    await process.start()
    text = await process.wait_for_output("Fault knobs")
    urls = {
        parts[0]: parts[1] for parts in map(str.split, text.splitlines()) if len(parts) > 1 and parts[0] in AGENCIES
    }
    assert set(urls) == set(AGENCIES), text
    return process, urls


async def settled(session: aiohttp.ClientSession, url: str, body: dict[str, Any], key: SigningKey) -> dict[str, Any]:
    """Submit ``body`` signed with the window's key (a new district takes no API keys), and follow it."""
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json", "Idempotency-Key": f"shifan-{body['item']}"}
    headers |= sign("POST", f"{url}/v1/requests", data, key)
    async with session.post(f"{url}/v1/requests", data=data, headers=headers) as response:
        view = await response.json()
        assert response.status in (201, 202), view
    for _ in range(200):
        if view["status"] not in ("accepted", "pending", "deferred"):
            return view
        await asyncio.sleep(0.05)
        path = f"{url}/v1/requests/{view['id']}"
        async with session.get(path, headers=sign("GET", path, b"", key)) as response:
            view = await response.json()
    raise AssertionError(f"{body['item']} did not finish: {view}")


@pytest.mark.slow
async def test_a_district_deployed_from_the_docs_seals_results_naming_its_own_agencies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pki, passphrase = tmp_path / "pki", tmp_path / "seal-passphrase"
    passphrase.write_text("shifan-district-seal-passphrase\n", encoding="utf-8")
    monkeypatch.setenv("ONEWINDOW_SEAL_PASSPHRASE_FILE", str(passphrase))
    await make_pki(pki)
    sandboxes, urls = await start_sandboxes(tmp_path)
    config = tmp_path / "shifan.toml"
    config.write_text(district_configuration(tmp_path, pki, passphrase, urls), encoding="utf-8")
    gateway = Process("serve", ["serve", "--config", str(config)], tmp_path)
    try:
        await cli("audit", "init-key", "--config", str(config))
        checked = await cli("check-config", "--config", str(config))
        assert checked.startswith("# configuration OK") and "国家税务总局示范区税务局" in checked
        await gateway.start()
        out = await gateway.wait_for_output("District root certificate sha256: ")
        url = re.search(r"serving on (http://\S+) ", out).group(1)  # type: ignore[union-attr]
        root = re.search(r"District root certificate sha256: ([0-9a-f]{64})", out).group(1)  # type: ignore[union-attr]
        key_file = tmp_path / "shifan-window.key.json"  # the window's signing key, as docs/operations.md gives one
        added = await cli(
            "caller",
            "add-key",
            "shifan-window",
            "--alg",
            "hmac-sha256",
            "--out",
            str(key_file),
            "--config",
            str(config),
        )
        assert "key id: shifan-window." in added
        key = read_key_file(key_file)
        settings = load_settings(config, environ={})
        catalogue = load_registry(plugin_manager(), settings).catalogue
        async with aiohttp.ClientSession() as session:
            for code in ITEMS:
                item = catalogue.get(code)
                assert item is not None
                body = envelope_for(item, applicant=PERSON, office=TOWN)
                view = await settled(session, url, body, key)
                assert view["status"] == "completed", view
                await check_sealed_result(view["result"], item.agency, tmp_path, pki, root)
    finally:
        await gateway.stop()
        await sandboxes.stop()


async def check_sealed_result(document: dict[str, Any], agency: str, tmp_path: Path, pki: Path, root: str) -> None:
    assert document["agency"] == {"code": agency, **AGENCIES[agency]}
    assert document["office"] == {"code": TOWN, "name": "示范镇便民服务中心"}
    answered = ("content", "agency_reference")  # what the agency answered (its sandbox imitates Zhangdian's)
    written_by_the_gateway = json.dumps({k: v for k, v in document.items() if k not in answered}, ensure_ascii=False)
    found = [word for word in ZHANGDIAN if word in written_by_the_gateway]
    assert found == [], f"{document['item']}: {found} in {written_by_the_gateway}"
    path = tmp_path / f"{document['item']}.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    report = json.loads(
        await cli("verify", str(path), "--trust", str(pki / "trust-bundle.json"), "--root-fingerprint", root, "--json")
    )
    assert report["indication"] == "TOTAL_PASSED", report
    assert report["seal_number"].startswith("370399-") and report["holder"]["office"] == TOWN
