"""The core guards the hook boundary: a plugin's fault is answered naming it, and breaks nobody else's items."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from gateway.agencies.plugin_manager import plugin_manager
from gateway.contract import AgencyCall, Completed, Health, IntakeRequest, Pending, Problem, hookimpl
from gateway.errors import PluginError
from gateway.testing import captured_logs
from tests.helpers import PERSON, identity_of
from tests.test_hooks import CATALOGUE, REQUEST

CODE = "civil_affairs"
CIVIL = {**REQUEST, "item": f"{CODE}.echo", "materials": {"words": "你好"}}


class CivilAffairs:
    """An agency answering in-process, whose ``submit`` does what the test sets."""

    code, identity = CODE, identity_of(CODE, "示范民政局", "Example civil affairs bureau")

    def __init__(self, catalogue: Path, submit: Any = None) -> None:
        self.catalogue = catalogue
        self._submit = submit

    async def submit(self, request: IntakeRequest, call: AgencyCall) -> Any:
        if self._submit is not None:
            return self._submit(request)
        return Completed({"echo": request.materials["words"]})

    async def poll(self, ticket: str, call: AgencyCall) -> Completed:
        raise NotImplementedError

    async def health(self, call: AgencyCall) -> Health:
        return Health(ok=True)


def civil_plugin(tmp_path: Path, *, validate: Any = None, submit: Any = None) -> object:
    """A plugin named ``civil_affairs`` registering the agency, with the validation hook given."""
    catalogue = tmp_path / "civil.toml"
    catalogue.write_text(CATALOGUE.replace("hooktest.", f"{CODE}."), encoding="utf-8")

    class Plugin:
        __name__ = CODE

        @hookimpl
        def onewindow_agencies(self, config: Any) -> list[Any]:
            return [CivilAffairs(catalogue, submit)]

        @hookimpl
        def onewindow_validate(self, item: Any, request: IntakeRequest) -> Any:
            return validate(item, request) if validate else []

    return Plugin()


def counted(gw: Any, metric: str, plugin: str, hook: str) -> float | None:
    return gw.gateway.metrics.registry.get_sample_value(metric, {"plugin": plugin, "hook": hook})


def _raise(item: Any, request: IntakeRequest) -> Any:
    raise KeyError(request.applicant.id_number)  # an error text carrying an applicant's data


async def test_a_validation_hook_that_raises_is_a_502_naming_the_plugin_and_never_breaks_other_agencies(
    start_gateway, tmp_path
) -> None:
    with captured_logs() as log:  # the gateway's loggers are bound at its start
        gw = await start_gateway(plugins=(civil_plugin(tmp_path, validate=_raise),))
        response = await gw.post(CIVIL)
    body = await response.json()
    assert response.status == 502 and body["type"].endswith("/plugin-failed")
    assert body["detail"] == f"plugin '{CODE}': onewindow_validate raised KeyError"
    assert (body["plugin"], body["hook"]) == (CODE, "onewindow_validate")
    assert PERSON["id_number"] not in await response.text()
    assert (await gw.post(REQUEST)).status == 201  # tax items go on: the plugin does not answer for them
    assert f"plugin '{CODE}': onewindow_validate raised KeyError" in log.getvalue()
    assert PERSON["id_number"] not in log.getvalue()


async def test_a_validation_hook_returning_the_wrong_type_is_named_with_what_it_returned(
    start_gateway, tmp_path
) -> None:
    gw = await start_gateway(plugins=(civil_plugin(tmp_path, validate=lambda item, request: "bad date"),))
    body = await (await gw.post(CIVIL)).json()
    assert body["detail"] == f"plugin '{CODE}': onewindow_validate returned str, expected a list of Problem"
    listed = civil_plugin(tmp_path, validate=lambda item, request: [{"path": "materials/words"}])
    gw = await start_gateway(plugins=(listed,))
    body = await (await gw.post(CIVIL)).json()
    assert (
        body["detail"]
        == f"plugin '{CODE}': onewindow_validate returned a list holding dict, expected a list of Problem"
    )


async def test_problems_for_another_agencys_items_are_ignored_logged_and_counted(start_gateway, tmp_path) -> None:
    def meddle(item: Any, request: IntakeRequest) -> list[Problem]:
        return [Problem("materials/period_start", "nope", "不行", "no")]  # for every item, its own or not

    gw = await start_gateway(plugins=(civil_plugin(tmp_path, validate=meddle),))
    assert (await gw.post(REQUEST)).status == 201
    assert (await gw.post(CIVIL)).status == 422  # its own item: its problem stands
    assert counted(gw, "onewindow_plugin_faults_total", CODE, "onewindow_validate") == 1


async def test_a_plugin_without_agencies_still_validates_every_item(start_gateway) -> None:
    class DistrictRules:
        @hookimpl
        def onewindow_validate(self, item: Any, request: IntakeRequest) -> str:
            return "not a list"

    gw = await start_gateway(plugins=(DistrictRules(),))
    body = await (await gw.post(REQUEST)).json()
    assert body["detail"] == "plugin 'DistrictRules': onewindow_validate returned str, expected a list of Problem"


async def test_an_adapter_that_raises_fails_the_request_with_the_plugin_named_in_its_error(
    start_gateway, store_url, tmp_path
) -> None:
    def crash(request: IntakeRequest) -> Any:
        raise ValueError(f"cannot parse {request.applicant.name}")

    with captured_logs() as log:
        gw = await start_gateway(store_url, plugins=(civil_plugin(tmp_path, submit=crash),))
        response = await gw.post(CIVIL)
    body = await response.json()
    named = f"plugin '{CODE}': agency '{CODE}' submit raised ValueError"
    assert response.status == 502 and body["detail"] == named and body["hook"] == f"agency '{CODE}' submit"
    assert PERSON["name"] not in await response.text()
    stored = await (await gw.get(f"/v1/requests/{body['request_id']}")).json()
    assert stored["status"] == "failed"
    assert stored["error"] == {"code": "plugin_failed", "kind": "PluginFault", "message": named}
    assert "ValueError: cannot parse" in log.getvalue() and PERSON["name"] not in log.getvalue()  # masked, not lost


async def test_an_adapter_returning_no_outcome_is_named(start_gateway, tmp_path) -> None:
    gw = await start_gateway(plugins=(civil_plugin(tmp_path, submit=lambda request: {"ok": True}),))
    body = await (await gw.post(CIVIL)).json()
    assert (
        body["detail"]
        == f"plugin '{CODE}': agency '{CODE}' submit returned dict, expected Completed, Pending or Rejected"
    )


async def test_a_call_holding_the_event_loop_is_logged_with_the_plugin_and_counted(start_gateway, tmp_path) -> None:
    def slow(request: IntakeRequest) -> Completed:
        time.sleep(0.12)  # what a blocking HTTP client or a CPU-heavy parse does to every other request
        return Completed({"echo": "slow"})

    with captured_logs() as log:
        gw = await start_gateway(plugins=(civil_plugin(tmp_path, submit=slow),), plugins_block_threshold_s=0.1)
        assert (await gw.post(CIVIL)).status == 201
    assert counted(gw, "onewindow_plugin_loop_blocks_total", CODE, f"agency '{CODE}' submit") == 1
    held = [line for line in log.getvalue().splitlines() if "plugin.loop_blocked" in line]
    assert len(held) == 1 and json.loads(held[0])["plugin"] == CODE
    assert (await gw.post(REQUEST)).status == 201
    assert not counted(gw, "onewindow_plugin_loop_blocks_total", "tax", "agency 'tax' submit")


def test_a_misspelt_hook_is_refused_at_load_naming_the_plugin_and_the_hook() -> None:
    class Misspelt:
        __name__ = "civil_affairs"

        @hookimpl
        def onewindow_agencie(self, config: Any) -> list[Any]:
            return []

    with pytest.raises(PluginError) as refused:
        plugin_manager(extra=(Misspelt(),))
    assert str(refused.value) == (
        "plugin 'civil_affairs': unknown hook 'onewindow_agencie' (did you mean onewindow_agencies?)"
    )
    tolerant = plugin_manager(extra=(Misspelt(),), strict=False)
    assert list(tolerant.failed) == ["civil_affairs"] and not tolerant.is_registered(Misspelt())


def test_a_hook_with_an_argument_the_contract_lacks_is_refused_in_one_line() -> None:
    class Misnamed:
        @hookimpl
        def onewindow_validate(self, item: Any, reqest: Any) -> list[Any]:
            return []

    with pytest.raises(PluginError, match=r"^plugin 'Misnamed': .*reqest") as refused:
        plugin_manager(extra=(Misnamed(),))
    assert "\n" not in str(refused.value)


async def test_a_start_up_hook_that_raises_stops_the_start_in_one_line_naming_the_plugin(start_gateway) -> None:
    class Picky:
        @hookimpl
        def onewindow_startup(self, gateway: Any) -> None:
            raise RuntimeError("the district code must be set")

    with pytest.raises(PluginError) as refused:
        await start_gateway(plugins=(Picky(),))
    assert str(refused.value) == "plugin 'Picky': onewindow_startup raised RuntimeError: the district code must be set"


async def test_a_poll_that_raises_keeps_the_request_pending_with_the_plugin_named_in_the_outbox(
    start_gateway, tmp_path
) -> None:
    gw = await start_gateway(plugins=(civil_plugin(tmp_path, submit=lambda request: Pending("T-1", 0.05)),))
    body = await (await gw.post(CIVIL)).json()
    assert body["status"] == "pending"
    named = f"plugin '{CODE}': agency '{CODE}' poll raised NotImplementedError"
    give_up = time.monotonic() + 10
    while not any(named == (row.last_error or "") for row in await gw.gateway.store.list_outbox(request_id=body["id"])):
        assert time.monotonic() < give_up, await gw.gateway.store.list_outbox(request_id=body["id"])
        await asyncio.sleep(0.05)
    assert (await gw.gateway.store.get_request(body["id"])).status == "pending"
