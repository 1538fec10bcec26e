"""A replayed Idempotency-Key answers with the request as it is now; the catalogue filters on every guide field."""

from __future__ import annotations

import pytest

from tests.helpers import CLEARANCE
from tests.test_outbox import wait_for_status


async def test_a_replay_after_a_202_accepted_answers_completed_once_the_request_is(start_gateway, monkeypatch) -> None:
    gw = await start_gateway(request_deadline_s=1.0)
    delivery = gw.gateway.router.delivery
    real, calls = delivery.submit, []

    async def dies_the_first_time(record, item, *, background):
        calls.append(background)
        if len(calls) == 1:
            raise RuntimeError("the process stopped mid-delivery")  # the request is safe in the outbox
        return await real(record, item, background=background)

    monkeypatch.setattr(delivery, "submit", dies_the_first_time)
    first = await gw.post(CLEARANCE, **{"Idempotency-Key": "window-crash-0001"})
    accepted = await first.json()
    assert first.status == 202 and accepted["status"] == "accepted"
    done = await wait_for_status(gw, accepted["id"], "completed", timeout=20)

    replay = await gw.post(CLEARANCE, **{"Idempotency-Key": "window-crash-0001"})
    assert replay.status == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert await replay.json() == done  # what GET says, not the first answer
    assert replay.headers["Location"] == f"/v1/requests/{accepted['id']}"
    assert gw.sandboxes["tax"].ledger.stats()["effective_submissions"] == 1


async def test_a_replay_of_a_deferred_request_says_completed_once_the_outbox_finished_it(start_gateway) -> None:
    gw = await start_gateway(agency_changes={"tax": {"max_attempts": 1}})
    gw.sandboxes["tax"].knobs.update({"maintenance": True})
    first = await gw.post(CLEARANCE, **{"Idempotency-Key": "kiosk-0042"})
    assert first.status == 202 and (await first.json())["status"] == "deferred"
    gw.sandboxes["tax"].knobs.update({"maintenance": False})
    done = await wait_for_status(gw, (await first.json())["id"], "completed", timeout=20)
    replay = await gw.post(CLEARANCE, **{"Idempotency-Key": "kiosk-0042"})
    assert replay.status == 201 and await replay.json() == done


async def test_a_422_does_not_use_up_an_idempotency_key(gw) -> None:
    wrong = {**CLEARANCE, "materials": {**CLEARANCE["materials"], "contact_phone": "12"}}
    assert (await gw.post(wrong, **{"Idempotency-Key": "window-0422"})).status == 422
    answer = await gw.post(CLEARANCE, **{"Idempotency-Key": "window-0422"})
    assert answer.status == 201 and "Idempotent-Replayed" not in answer.headers


@pytest.mark.parametrize(
    ("query", "holds"),
    [
        ("long_running=true", lambda i: i["long_running"] is True),
        ("long_running=false&agency=property", lambda i: not i["long_running"] and i["agency"] == "property"),
        ("seal=delegated_approval", lambda i: i["seal"] == "delegated_approval"),
        ("time_limit_days=0", lambda i: i["time_limit_days"] == 0),
        ("channel=kiosk&kind=query", lambda i: "kiosk" in i["channels"] and i["kind"] == "query"),
    ],
)
async def test_the_catalogue_filters_on_the_guide_fields(gw, query: str, holds) -> None:
    body = await (await gw.client.get(f"/v1/catalog?{query}")).json()
    everything = await (await gw.client.get("/v1/catalog")).json()
    assert body["items"] and all(holds(i) for i in body["items"])
    assert [i["code"] for i in everything["items"] if holds(i)] == [i["code"] for i in body["items"]]


async def test_the_catalogue_filters_on_applicant_kind_deferrable_and_pledge(gw) -> None:
    catalogue = gw.gateway.registry.catalogue
    for query, expected in (
        ("applicant_kind=organisation", [i.code for i in catalogue if "organisation" in i.applicant_kinds]),
        ("deferrable=false", [i.code for i in catalogue if not i.deferrable]),
        ("pledge=true", [i.code for i in catalogue if i.pledge_replaces]),
    ):
        body = await (await gw.client.get(f"/v1/catalog?{query}")).json()
        assert [i["code"] for i in body["items"]] == expected and expected, query


@pytest.mark.parametrize(
    "query",
    ["long_running=yes", "long_running=True", "colour=red", "time_limit_days=-1", "kind=query&kind=application"],
)
async def test_a_filter_that_does_not_exist_or_a_value_it_does_not_take_is_a_400_listing_the_filters(gw, query) -> None:
    answer = await gw.client.get(f"/v1/catalog?{query}")
    body = await answer.json()
    assert answer.status == 400 and answer.content_type == "application/problem+json"
    assert body["filters"]["long_running"] == "true or false" and "applicant_kind" in body["filters"]
