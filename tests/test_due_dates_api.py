"""The promised due date and the agency's case number on the request resource, in /metrics and `onewindow overdue`."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

from gateway.personal_data.identifiers import today_in_china
from gateway.service.calendar import official_calendar
from gateway.service.time_limits import DueDate, accepted_on, due_date
from gateway.store import RequestStatus, make_store, utcnow
from gateway.testing import envelope_for
from tests.helpers import PAYMENT_RECORD
from tests.procs import run_cli, write_config
from tests.test_store import record


def slow_reviews(spec: Any) -> Any:
    return dataclasses.replace(spec, options={**spec.options, "decision_delay_s": 0.6})


async def status_of(gw: Any, request_id: str, status: str) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for _ in range(200):
        body = await (await gw.get(f"/v1/requests/{request_id}")).json()
        if body["status"] == status:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"{request_id} is {body.get('status')}, not {status}")


def check_due_date(body: dict[str, Any], due: DueDate) -> None:
    """The request shows the date the calendar gives -- or, near a new year the package does not know, why not."""
    if due.on is not None:
        assert body["due_on"] == due.on.isoformat() and body["overdue"] is False
    else:
        assert body["due_on"] is None and body["due_on_unknown"] == due.unknown


async def test_a_long_running_request_shows_its_due_date_and_case_number_while_pending(
    start_gateway, store_url
) -> None:
    gw = await start_gateway(store_url, sandbox_factories={"property": slow_reviews})
    item = gw.gateway.registry.catalogue.get("property.change-registration")
    answer = await gw.post(envelope_for(item))
    assert answer.status == 202, await answer.text()
    body = await answer.json()
    stored = await gw.gateway.store.get_request(body["id"])
    check_due_date(body, due_date(official_calendar(), item, stored.created_at))
    assert body["status"] == "pending"
    assert body["agency_reference"] and body["agency_reference"] in body["agency_message"]
    assert stored.due_on == body["due_on"] and stored.agency_reference == body["agency_reference"]
    final = await status_of(gw, body["id"], "completed")
    assert "agency_message" not in final and final["due_on"] == body["due_on"]


async def test_an_on_the_spot_item_is_due_the_day_it_is_accepted(gw) -> None:
    body = await (await gw.post(PAYMENT_RECORD)).json()
    assert body["status"] == "completed"
    stored = await gw.gateway.store.get_request(body["id"])
    item = gw.gateway.registry.catalogue.get(body["item"])
    check_due_date(body, due_date(official_calendar(), item, stored.created_at))
    if body["due_on"] is not None:
        assert body["due_on"] == accepted_on(stored.created_at).isoformat()


async def _overdue_requests(store_url: str) -> tuple[str, str, str]:
    store = make_store(store_url)
    await store.open()
    yesterday = (today_in_china() - timedelta(days=1)).isoformat()
    late = record(status=RequestStatus.PENDING, due_on=yesterday, agency_reference="BDC-2026-0001")
    elsewhere = record(status=RequestStatus.DEFERRED, due_on="2026-01-05", office="370303007000")
    done = record(status=RequestStatus.COMPLETED, due_on="2026-01-05", finished_at=utcnow())
    in_time = record(status=RequestStatus.PENDING, due_on=today_in_china().isoformat())
    for rec in (late, elsewhere, done, in_time):
        await store.insert_request(rec)
    assert {r.id for r in await store.list_overdue(today_in_china().isoformat())} == {late.id, elsewhere.id}
    assert await store.count_overdue(today_in_china().isoformat()) == {
        ("370303105000", "tax.payment-record"): 1,
        ("370303007000", "tax.payment-record"): 1,
    }
    await store.close()
    return late.id, elsewhere.id, done.id


async def test_overdue_requests_are_listed_by_the_command_and_counted_in_metrics(
    start_gateway, store_url, district, tmp_path: Path
) -> None:
    late, elsewhere, done = await _overdue_requests(store_url)
    config = write_config(tmp_path / "gw.toml", store_url=store_url, district=district)
    code, out, err = await run_cli("overdue", "--config", str(config))
    assert code == 0, err
    assert elsewhere in out.splitlines()[1] and late in out.splitlines()[2]  # most overdue first
    assert done not in out and "BDC-2026-0001" in out and "2 request(s) overdue" in out
    code, out, err = await run_cli("overdue", "--office", "370303105000", "--config", str(config))
    assert code == 0 and late in out and elsewhere not in out
    gw = await start_gateway(store_url)
    metrics = await (await gw.client.get("/metrics")).text()
    assert 'onewindow_requests_overdue{item="tax.payment-record",office="370303105000"} 1.0' in metrics
    assert 'onewindow_requests_overdue{item="tax.payment-record",office="370303007000"} 1.0' in metrics


async def test_the_overdue_command_refuses_a_bad_office_in_one_line(district, tmp_path: Path) -> None:
    config = write_config(tmp_path / "gw.toml", store_url=f"sqlite:///{tmp_path}/gw.db", district=district)
    for office, says in (("37030310500X", "12-digit"), ("370303999000", "not an office")):
        code, _out, err = await run_cli("overdue", "--office", office, "--config", str(config))
        assert code == 2 and says in err and len(err.strip().splitlines()) == 1, err


def test_a_request_whose_calendar_year_is_unknown_says_why_it_has_no_due_date() -> None:
    from gateway.delivery.results import request_view

    why = "the official holiday calendar of 2027 is not known (chinese-calendar knows 2004-2026): upgrade"
    view = request_view(record(status=RequestStatus.PENDING, due_unknown=why))
    assert view["due_on"] is None and view["due_on_unknown"] == why and "overdue" not in view
