"""The contract refinements the agencies asked for: sandbox options, call.request, required settings, reset."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from gateway.agencies.installed import load_registry
from gateway.agencies.plugin_manager import plugin_manager
from gateway.agencies.sandboxes import sandbox_specs
from gateway.cli.main import main
from gateway.cli.sandbox import parse_options
from gateway.contract import AgencyCall, AgencyRejectedCall, Completed, Health, IntakeRequest, Pending, hookimpl
from gateway.errors import PluginError
from gateway.sandbox import FaultKnobs, SubmissionLedger, sandbox_options, start_sandbox
from plugins.medical import sandbox as medical_sandbox
from plugins.medical.oauth import basic_credentials
from plugins.property import sandbox as property_sandbox
from tests.helpers import PERSON, TOWN, identity_of, sample_settings, with_agency

ONEWINDOW = Path(sys.executable).with_name("onewindow")
LONG_RUNNING = """
[[items]]
code = "asker.case"
name_zh = "长事项"
name_en = "A long-running case"
kind = "application"
seal = "delegated_approval"
office_levels = ["town"]
channels = ["window"]
applicant_kinds = ["person"]
legal_basis = ["测试依据"]
time_limit_days = 1
steps = ["受理", "决定"]
long_running = true
[[items.materials]]
name = "case_kind"
type = "enum"
required = true
description_zh = "业务类型"
constraints = { choices = ["甲", "乙"] }
sample = "乙"
"""


# -- SandboxSpec.options ----------------------------------------------------------


def test_sandbox_options_are_checked_against_the_declared_defaults() -> None:
    spec = property_sandbox.spec()
    assert sandbox_options(spec) == {"decision_delay_s": property_sandbox.DEFAULT_DECISION_DELAY_S}
    assert sandbox_options(spec, {"decision_delay_s": 1}) == {"decision_delay_s": 1.0}
    with pytest.raises(ValueError, match=r"no option 'decision_delay'.*decision_delay_s"):
        sandbox_options(spec, {"decision_delay": 1})
    with pytest.raises(ValueError, match="takes a float"):
        sandbox_options(spec, {"decision_delay_s": "0.5"})
    with pytest.raises(ValueError, match="takes a int"):
        sandbox_options(medical_sandbox.spec(), {"token_ttl_s": 1.5})


async def test_an_option_reaches_create_app_as_a_keyword_argument() -> None:
    running = await start_sandbox(medical_sandbox.spec(), options={"token_ttl_s": 7})
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{running.url}/oauth/token",
                data={"grant_type": "client_credentials"},
                headers={"Authorization": basic_credentials(medical_sandbox.CLIENT_ID, medical_sandbox.CLIENT_SECRET)},
            ) as response,
        ):
            assert (await response.json())["expires_in"] == 7
    finally:
        await running.stop()
    assert running.options == {"token_ttl_s": 7}


def test_sandbox_run_options_are_toml_literals_per_agency() -> None:
    specs = {s.agency: s for s in sandbox_specs(plugin_manager())}
    chosen = parse_options(["property.decision_delay_s=0.5", "medical.token_ttl_s=30"], specs)
    assert chosen == {"property": {"decision_delay_s": 0.5}, "medical": {"token_ttl_s": 30}}
    for bad, message in [
        ("property.decision_delay_s", "is not AGENCY.KEY=VALUE"),
        ("nowhere.x=1", "no sandbox for nowhere"),
        ("property.delay=1", "has no option 'delay'"),
        ("medical.token_ttl_s=soon", "takes a int"),
    ]:
        with pytest.raises(SystemExit, match=message):
            parse_options([bad], specs)


def test_sandbox_run_starts_with_an_option_and_names_it() -> None:
    process = subprocess.Popen(
        [str(ONEWINDOW), "sandbox", "run", "property", "--port", "0", "--option", "property.decision_delay_s=0.25"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert line.startswith("property") and "http://127.0.0.1:" in line and "decision_delay_s=0.25" in line
    refused = subprocess.run(
        [str(ONEWINDOW), "sandbox", "run", "property", "--option", "property.delay=1"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert refused.returncode != 0 and refused.stderr.count("\n") == 1 and "has no option 'delay'" in refused.stderr


# -- AgencyCall.request -------------------------------------------------------------


async def test_the_gateway_hands_the_request_to_submit_and_to_poll(start_gateway, tmp_path) -> None:
    catalogue = tmp_path / "catalogue.toml"
    catalogue.write_text(LONG_RUNNING, encoding="utf-8")
    seen: list[tuple[str, IntakeRequest | None]] = []

    class Asker:
        code, identity = "asker", identity_of("asker", "问询局", "Asking bureau")
        catalogue = tmp_path / "catalogue.toml"

        async def submit(self, request: IntakeRequest, call: AgencyCall) -> Pending:
            seen.append(("submit", call.request))
            return Pending(ticket="T-1", poll_after=0.05)

        async def poll(self, ticket: str, call: AgencyCall) -> Completed:
            seen.append(("poll", call.request))
            # An agency with one status endpoint per business type needs the item's materials here.
            return Completed({"ticket": ticket, "asked_about": call.request.materials["case_kind"]})

        async def health(self, call: AgencyCall) -> Health:
            seen.append(("health", call.request))
            return Health(ok=True)

    class Plugin:
        @hookimpl
        def onewindow_agencies(self, config):
            return [Asker()]

    gw = await start_gateway(plugins=(Plugin(),))
    envelope = {
        "item": "asker.case",
        "applicant": PERSON,
        "materials": {"case_kind": "乙"},
        "office": TOWN,
        "operator": "fz-window-01",
        "channel": "window",
    }
    body = await (await gw.post(envelope)).json()
    assert body["status"] == "pending"
    for _ in range(100):
        body = await (await gw.get(f"/v1/requests/{body['id']}")).json()
        if body["status"] == "completed":
            break
        await asyncio.sleep(0.05)
    assert body["result"]["content"] == {"ticket": "T-1", "asked_about": "乙"}
    await gw.get("/readyz")
    by_operation = {operation: request for operation, request in seen}
    assert by_operation["submit"].request_id == by_operation["poll"].request_id == body["id"]
    assert by_operation["poll"].item == "asker.case" and by_operation["poll"].applicant.id_number == PERSON["id_number"]
    assert by_operation.get("health", "not asked") is None


# -- required_secrets / required_options ------------------------------------------


def test_a_missing_required_setting_stops_the_start_naming_plugin_agency_and_key() -> None:
    configured = sample_settings()
    for spec in sandbox_specs(plugin_manager()):
        configured = with_agency(configured, spec.agency, "http://127.0.0.1:9", **spec.config)
    load_registry(plugin_manager(), configured)  # everything configured: starts
    without = with_agency(
        configured, "property", "http://127.0.0.1:9", secrets={"api_token": "t"}, options={"client_id": ""}
    )
    with pytest.raises(PluginError) as caught:
        load_registry(plugin_manager(), without)
    assert str(caught.value).startswith(
        "plugin 'property': agency 'property' needs options.'client_id', which is not configured "
        "(set it under [agencies.property.options]). "
    )
    assert "[plugins] disabled" in str(caught.value)
    # a district that does not use the agency switches its plugin off instead
    assert "property" not in load_registry(plugin_manager(disabled=["property"]), without).agencies
    assert load_registry(plugin_manager(), without, check_settings=False).agencies["property"]


def test_every_missing_key_is_reported_at_once() -> None:
    with pytest.raises(PluginError) as caught:
        load_registry(plugin_manager(), sample_settings())
    message = str(caught.value)
    for key in ("secrets.'app_secret'", "secrets.'password'", "secrets.'client_secret'", "options.'orgcode'"):
        assert key in message


def test_required_settings_must_be_a_tuple_of_names(tmp_path) -> None:
    class Sloppy:
        code, identity, catalogue = "sloppy", identity_of("sloppy", "马虎局", "Sloppy bureau"), tmp_path / "x.toml"
        required_secrets = "api_key"  # a string, not a tuple: every letter would be a key

        async def submit(self, request, call): ...
        async def poll(self, ticket, call): ...
        async def health(self, call): ...

    class Plugin:
        @hookimpl
        def onewindow_agencies(self, config):
            return [Sloppy()]

    with pytest.raises(PluginError, match="required_secrets must be a tuple of key names"):
        load_registry(plugin_manager(load_entry_points=False, extra=(Plugin(),)), sample_settings())


def test_check_config_reports_a_missing_secret_in_one_line(tmp_path, capsys) -> None:
    path = tmp_path / "district.toml"
    identity = "".join(
        f'{key} = "{value}"\n' for key, value in sample_settings().agency_identity("tax").as_json().items()
    )
    path.write_text(
        '[agencies.tax]\nbase_url = "http://127.0.0.1:9"\n' + identity.replace('code = "tax"\n', "", 1),
        encoding="utf-8",
    )
    assert main(["check-config", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "agency 'tax' needs secrets.'app_key'" in err
    assert main(["catalog", "list", "--agency", "tax", "--config", str(path)]) == 0  # listing needs no secrets


# -- SubmissionLedger.seen and /_sandbox/reset ---------------------------------------


async def test_the_ledger_says_whether_a_key_was_acted_on() -> None:
    ledger = SubmissionLedger(FaultKnobs())
    assert not ledger.seen("k")
    assert await ledger.submit("k", lambda: "first") == "first"
    assert await ledger.submit("k", lambda: "second") == "first"
    assert ledger.seen("k") and not ledger.seen("other")
    ledger.reset()
    assert not ledger.seen("k")


async def control(session: aiohttp.ClientSession, url: str, method: str = "GET") -> dict:
    async with session.request(method, url) as response:
        return await response.json()


async def test_reset_clears_the_medical_bureaus_issued_tokens() -> None:
    running = await start_sandbox(medical_sandbox.spec(), options={"token_ttl_s": 30})
    auth = basic_credentials(medical_sandbox.CLIENT_ID, medical_sandbox.CLIENT_SECRET)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(
                f"{running.url}/oauth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": auth}
            ) as response:
                token = (await response.json())["access_token"]
            async with session.put(f"{running.url}/_sandbox/tokens", json={"ttl_s": 5}):
                pass
            assert (await control(session, f"{running.url}/_sandbox/tokens"))["issued"] == 1
            await control(session, f"{running.url}/_sandbox/reset", "POST")
            assert await control(session, f"{running.url}/_sandbox/tokens") == {
                "issued": 0,
                "active": 0,
                "invalid_token_answers": 0,
                "ttl_s": 30,
                "accept_tokens": True,
            }
            async with session.get(f"{running.url}/api/v1/ping", headers={"Authorization": f"Bearer {token}"}) as r:
                assert r.status == 401  # the token issued before the reset is gone
    finally:
        await running.stop()


async def test_reset_forgets_the_registration_centres_cases(agency_kit) -> None:
    async with agency_kit("property", options={"decision_delay_s": 0.05}) as kit:
        request = kit.request("property.change-registration")
        pending = await kit.submit(request)
        assert isinstance(pending, Pending) and pending.ticket.endswith("00001")
        async with aiohttp.ClientSession() as session:
            await control(session, f"{kit.sandbox.url}/_sandbox/reset", "POST")
        assert not kit.ledger.seen(request.request_id)
        with pytest.raises(AgencyRejectedCall, match="P0404"):
            await kit.poll(pending.ticket, request)
        again = await kit.submit(dataclasses.replace(request, request_id=request.request_id + "X"))
        assert again.ticket == pending.ticket  # numbering starts afresh
