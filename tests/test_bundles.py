"""Chained items (一链办理): POST /v1/bundles runs several items in one flow against the sandboxes."""

from __future__ import annotations

import asyncio
from typing import Any

from signing.audit.entry import document_digest
from signing.verify.verifier import verify_document
from tests.helpers import ORGANISATION, PERSON, TOWN
from tests.test_outbox import wait_for_status

LICENCE = {
    "media_type": "application/pdf",
    "filename": "营业执照.pdf",
    "content_base64": "JVBERi0xLjQKJSBsaWNlbmNlCg==",
}
NEW_BUSINESS: dict[str, Any] = {
    "chain": "new-business",
    "applicant": ORGANISATION,
    "office": TOWN,
    "operator": "fz-window-01",
    "channel": "window",
    "materials": {
        "legal_rep_id": "370303199001011239",
        "legal_rep_name": "张伟",
        "contact_phone": "13805330123",
        "employee_count": 18,
        "business_address": "淄博市张店区房镇镇华光路366号",
    },
    "steps": {
        "tax.business-registration": {"materials": {"accounting_standard": "小企业会计准则"}},
        "housing_fund.employer-registration": {
            "materials": {"deposit_ratio": 12, "first_month": "2026-01", "business_licence": LICENCE}
        },
    },
}
NEWBORN: dict[str, Any] = {
    "chain": "newborn",
    "applicant": PERSON,
    "office": TOWN,
    "operator": "fz-window-01",
    "channel": "window",
    "materials": {"contact_phone": "13805330123"},
    "steps": {
        "medical.newborn-enrolment": {
            "materials": {
                "newborn_id_number": "370303202503150022",
                "newborn_name": "张小雨",
                "birth_date": "2025-03-15",
                "birth_certificate_no": "R370012345",
                "guardian_relation": "父亲",
            }
        },
        "social_security.card-application": {"materials": {"delivery": "网点领取"}},
    },
}
AGENCIES = ("tax", "social_security", "housing_fund")


async def post_bundle(gw, body: dict[str, Any], **headers: str):
    return await gw.client.post(
        "/v1/bundles", json=body, headers={"Authorization": "Bearer sample-fangzhen-window-key", **headers}
    )


async def wait_for_bundle(gw, bundle_id: str, status: str, timeout: float = 15.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        body = await (await gw.get(f"/v1/bundles/{bundle_id}")).json()
        if body["status"] == status:
            return body
        assert asyncio.get_running_loop().time() < deadline, f"still {body['status']}: {body.get('waiting_at')}"
        await asyncio.sleep(0.05)


def acted(*sandboxes: Any) -> int:
    return sum(s.ledger.stats()["effective_submissions"] for s in sandboxes)


async def test_the_catalogue_lists_chains_with_their_own_service_guide(gw) -> None:
    listing = await (await gw.client.get("/v1/catalog")).json()
    chains = {c["code"]: c for c in listing["chains"]}
    assert chains["new-business"]["items"] == [
        "tax.business-registration",
        "social_security.employer-registration",
        "housing_fund.employer-registration",
    ]
    guide = await (await gw.client.get("/v1/catalog/chains/new-business")).json()
    assert guide["name_zh"] == "开办企业一链办理" and guide["applicant_kinds"] == ["organisation"]
    second = guide["steps"][1]
    assert second["fed_by_chain"] == [
        {
            "material": "tax_registration_no",
            "from_step": 1,
            "from_item": "tax.business-registration",
            "field": "content.registration_no",
        }
    ]
    assert "tax_registration_no" not in {m["name"] for m in second["materials"]}
    assert (await gw.client.get("/v1/catalog/chains/no-such-chain")).status == 404
    paths = (await (await gw.client.get("/openapi.json")).json())["paths"]
    assert {"/v1/bundles", "/v1/bundles/{bundle_id}", "/v1/bundles/{bundle_id}/resume"} <= set(paths)


async def test_every_problem_of_every_step_is_listed_at_once_and_nothing_runs(gw) -> None:
    body = {
        **NEW_BUSINESS,
        "materials": {k: v for k, v in NEW_BUSINESS["materials"].items() if k != "employee_count"},
        "steps": {
            "tax.business-registration": {"materials": {"accounting_standard": "复式记账"}},
            "social_security.employer-registration": {"materials": {"tax_registration_no": "ZDSWDJ1234567"}},
            "housing_fund.employer-registration": {"materials": {"deposit_ratio": 30, "first_month": "2026-01"}},
            "property.title-reissue": {"materials": {}},
        },
    }
    answer = await post_bundle(gw, body)
    assert answer.status == 422
    found = {(e["path"], e["code"]) for e in (await answer.json())["errors"]}
    assert {
        ("steps/tax.business-registration/materials/accounting_standard", "choice"),
        ("steps/social_security.employer-registration/materials/employee_count", "required"),
        ("steps/social_security.employer-registration/materials/tax_registration_no", "fed_by_chain"),
        ("steps/housing_fund.employer-registration/materials/employee_count", "required"),
        ("steps/housing_fund.employer-registration/materials/business_licence", "required"),
        ("steps/property.title-reissue", "unknown_step"),
    } <= found
    assert any(p == "steps/housing_fund.employer-registration/materials/deposit_ratio" for p, _ in found)
    assert acted(*(gw.sandboxes[a] for a in AGENCIES)) == 0


async def test_a_chain_runs_in_order_feeding_results_forward_with_a_sealed_receipt(start_gateway, store_url) -> None:
    gw = await start_gateway(store_url)
    answer = await post_bundle(gw, NEWBORN)
    assert answer.status == 201, await answer.text()
    bundle = await answer.json()
    assert bundle["status"] == "completed" and bundle["completed"] == [
        "medical.newborn-enrolment",
        "social_security.card-application",
    ]
    enrolment, card = (step["request"] for step in bundle["steps"])
    assert enrolment["status"] == card["status"] == "completed"
    fed = (await gw.gateway.store.get_request(card["id"])).envelope["materials"]
    assert fed["medical_insurance_no"] == enrolment["result"]["content"]["psn_no"]
    assert fed["holder_name"] == "张小雨" and fed["holder_id_number"] == "370303202503150022"
    assert card["result"]["content"]["medical_insurance_no"] == fed["medical_insurance_no"]
    receipt = bundle["receipt"]
    trust = gw.gateway.sealer.trust_view()
    assert verify_document(receipt, trust).indication == "TOTAL_PASSED"
    assert receipt["document_type"] == "onewindow.bundle-receipt.v1" and receipt["bundle_id"] == bundle["id"]
    assert [s["request_id"] for s in receipt["steps"]] == [enrolment["id"], card["id"]]
    assert [s["document_digest"] for s in receipt["steps"]] == [
        document_digest(enrolment["result"]),
        document_digest(card["result"]),
    ]
    for step in (enrolment, card):
        assert verify_document(step["result"], trust).indication == "TOTAL_PASSED"
    assert (await gw.get(f"/v1/bundles/{bundle['id']}")).status == 200
    assert (await gw.get(f"/v1/bundles/{bundle['id']}", key="sample-mashang-window-key")).status == 404
    step = await (await gw.get(f"/v1/requests/{card['id']}")).json()
    assert step["links"]["bundle"] == f"/v1/bundles/{bundle['id']}"
    kinds = {r[3] async for chunk in gw.gateway.audit.store.entries() for r in chunk}
    assert {"bundle.accepted", "bundle.completed"} <= kinds


async def test_a_deferred_step_survives_a_restart_and_the_bundle_resumes_with_each_agency_acting_once(
    start_gateway, store_url
) -> None:
    down = {"social_security": {"max_attempts": 1}}
    first = await start_gateway(store_url, agency_changes=down)
    first.sandboxes["social_security"].knobs.update({"maintenance": True})
    answer = await post_bundle(first, NEW_BUSINESS, **{"Idempotency-Key": "new-business-0001"})
    assert answer.status == 202, await answer.text()
    bundle = await answer.json()
    assert [s["status"] for s in bundle["steps"]] == ["completed", "deferred", "not_started"]
    assert bundle["status"] == "waiting" and bundle["waiting_at"]["item"] == "social_security.employer-registration"
    assert bundle["waiting_at"]["reason"]["code"] == "agency_unavailable"
    assert bundle["completed"] == ["tax.business-registration"]
    old = first.sandboxes
    await first.client.close()
    await first.gateway.stop(grace_s=0.5)

    second = await start_gateway(store_url, agency_changes=down, outbox={"workers": False})  # only resume moves it
    replay = await post_bundle(second, NEW_BUSINESS, **{"Idempotency-Key": "new-business-0001"})
    assert replay.status == 202 and (await replay.json())["id"] == bundle["id"]
    resumed = await second.client.post(
        f"/v1/bundles/{bundle['id']}/resume", headers={"Authorization": "Bearer sample-fangzhen-window-key"}
    )
    assert resumed.status == 200, await resumed.text()
    done = await resumed.json()
    assert done["status"] == "completed" and [s["status"] for s in done["steps"]] == ["completed"] * 3
    new = second.sandboxes
    for agency in AGENCIES:  # each agency acted once for its step, across both gateways' sandboxes
        assert acted(old[agency], new[agency]) == 1, agency
        assert not old[agency].ledger.stats()["acted_more_than_once"]
    social = done["steps"][1]["request"]["result"]["content"]
    housing = done["steps"][2]["request"]["result"]["content"]
    assert social["tax_registration_no"] == done["steps"][0]["request"]["result"]["content"]["registration_no"]
    assert housing["social_insurance_no"] == social["employer_no"]
    assert [s["item"] for s in done["receipt"]["steps"]] == list(done["completed"])
    again = await second.client.post(
        f"/v1/bundles/{bundle['id']}/resume", headers={"Authorization": "Bearer sample-fangzhen-window-key"}
    )
    assert again.status == 200 and acted(*(new[a] for a in AGENCIES)) == 2  # nothing repeated


async def test_the_outbox_moves_a_waiting_bundle_on_by_itself_when_the_agency_returns(start_gateway) -> None:
    gw = await start_gateway(agency_changes={"social_security": {"max_attempts": 1}})
    social = gw.sandboxes["social_security"]
    social.knobs.update({"maintenance": True})
    answer = await post_bundle(gw, NEW_BUSINESS)
    assert answer.status == 202
    bundle_id = (await answer.json())["id"]
    social.knobs.update({"maintenance": False})
    done = await wait_for_bundle(gw, bundle_id, "completed")
    assert done["receipt"]["seal"]["number"]
    assert acted(*(gw.sandboxes[a] for a in AGENCIES)) == 3


async def test_a_refused_step_stops_the_bundle_saying_which_step_and_why_and_resume_will_not_repeat_it(gw) -> None:
    in_arrears = {"kind": "organisation", "id_number": "91370303MA3NQ2LU8C", "name": "淄博马尚众诚机械加工厂"}
    answer = await post_bundle(gw, {**NEW_BUSINESS, "applicant": in_arrears})
    assert answer.status == 201, await answer.text()
    bundle = await answer.json()
    assert bundle["status"] == "stopped" and bundle["completed"] == [] and "receipt" not in bundle
    stopped = bundle["stopped_at"]
    assert stopped["step"] == 1 and stopped["item"] == "tax.business-registration" and stopped["status"] == "rejected"
    assert stopped["reasons"][0]["code"].startswith("tax.")
    assert [s["status"] for s in bundle["steps"]] == ["rejected", "not_started", "not_started"]
    headers = {"Authorization": "Bearer sample-fangzhen-window-key"}
    resumed = await gw.client.post(f"/v1/bundles/{bundle['id']}/resume", headers=headers)
    assert resumed.status == 409 and (await resumed.json())["type"] == "/problems/bundle-not-resumable"
    assert acted(*(gw.sandboxes[a] for a in AGENCIES)) == 1
    unknown = await gw.client.post("/v1/bundles/01J00000000000000000000000/resume", headers=headers)
    assert unknown.status == 404


async def test_an_idempotency_key_replays_the_bundle_and_refuses_another_body(gw) -> None:
    first = await post_bundle(gw, NEWBORN, **{"Idempotency-Key": "newborn-0001"})
    assert first.status == 201
    again = await post_bundle(gw, NEWBORN, **{"Idempotency-Key": "newborn-0001"})
    assert again.status == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert (await again.json())["id"] == (await first.json())["id"]
    assert acted(gw.sandboxes["medical"], gw.sandboxes["social_security"]) == 2
    other = {**NEWBORN, "materials": {"contact_phone": "13905330123"}}
    refused = await post_bundle(gw, other, **{"Idempotency-Key": "newborn-0001"})
    assert refused.status == 422 and (await refused.json())["type"] == "/problems/idempotency-key-reused"


async def test_a_helper_runs_a_chain_on_an_authorisation_covering_every_step(gw) -> None:
    from tests.test_proxy_handling import AUTHORISATION

    helper = {"Authorization": "Bearer sample-helper-tablet-key"}
    narrow = {**AUTHORISATION, "items": ["medical.newborn-enrolment"]}
    body = {**NEWBORN, "channel": "helper", "operator": "fz-helper-07", "authorisation": narrow}
    refused = await gw.client.post("/v1/bundles", json=body, headers=helper)
    assert refused.status == 422
    found = {(e["path"], e["code"]) for e in (await refused.json())["errors"]}
    assert found == {("steps/social_security.card-application/authorisation/items", "out_of_scope")}
    whole = {**AUTHORISATION, "items": ["medical.newborn-enrolment", "social_security.card-application"]}
    answer = await gw.client.post("/v1/bundles", json={**body, "authorisation": whole}, headers=helper)
    assert answer.status == 201, await answer.text()
    bundle = await answer.json()
    assert bundle["receipt"]["proxy"]["name"] == AUTHORISATION["proxy"]["name"]
    assert all(s["request"]["result"]["proxy"]["id_number"].startswith("3703*") for s in bundle["steps"])


async def test_a_gateway_that_starts_moves_on_a_bundle_whose_step_completed_while_none_followed_it(
    start_gateway, store_url
) -> None:
    first = await start_gateway(store_url, agency_changes={"social_security": {"max_attempts": 1}})
    social = first.sandboxes["social_security"]
    social.knobs.update({"maintenance": True})
    bundle = await (await post_bundle(first, NEW_BUSINESS)).json()
    first.gateway.delivery.transitions.observers.clear()  # as if the process died as the step completed
    social.knobs.update({"maintenance": False})
    step = bundle["steps"][1]["request_id"]
    await wait_for_status(first, step, "completed")
    assert (await (await first.get(f"/v1/bundles/{bundle['id']}")).json())["status"] == "waiting"
    await first.client.close()
    await first.gateway.stop(grace_s=0.5)

    second = await start_gateway(store_url)
    done = await wait_for_bundle(second, bundle["id"], "completed")
    assert [s["status"] for s in done["steps"]] == ["completed"] * 3
    assert acted(second.sandboxes["tax"], second.sandboxes["social_security"]) == 0  # not repeated
    assert acted(second.sandboxes["housing_fund"]) == 1


async def test_a_step_id_submitted_twice_at_once_reaches_its_agency_once(gw) -> None:
    from gateway.callers.model import caller_by_id
    from gateway.intake.request_ids import new_ulid
    from tests.helpers import CLEARANCE

    caller = caller_by_id(gw.gateway.settings, "fangzhen-window")
    assert caller is not None
    gw.sandboxes["tax"].knobs.update({"latency_ms": 200})
    step_id = new_ulid()
    answers = await asyncio.gather(
        *(gw.gateway.router.submit_as(caller, CLEARANCE, request_id=step_id) for _ in range(2))
    )
    assert {a.body["id"] for a in answers} == {step_id}
    stats = gw.sandboxes["tax"].ledger.stats()
    assert stats["effective_submissions"] == 1 and stats["duplicate_submissions"] == 0


async def test_a_bundle_is_read_by_its_maker_and_by_office_readers_who_may_read_every_step(gw) -> None:
    import dataclasses

    from gateway.callers.model import caller_by_id
    from tests.test_proxy_handling import AUTHORISATION

    whole = {**AUTHORISATION, "items": ["medical.newborn-enrolment", "social_security.card-application"]}
    body = {**NEWBORN, "channel": "helper", "operator": "fz-helper-07", "authorisation": whole}
    helper = {"Authorization": "Bearer sample-helper-tablet-key"}
    made = await (await gw.client.post("/v1/bundles", json=body, headers=helper)).json()
    assert (await gw.get(f"/v1/bundles/{made['id']}")).status == 200  # the town window reads its office's
    assert (await gw.get(f"/v1/bundles/{made['id']}", key="sample-bank-outlet-key")).status == 404
    stored = await gw.gateway.store.get_bundle(made["id"])
    window = caller_by_id(gw.gateway.settings, "fangzhen-window")
    assert stored is not None and window is not None
    narrow = dataclasses.replace(window, items=("medical.*",))  # may not read the card application step
    assert not await gw.gateway.bundles.may_read(narrow, stored)
    assert await gw.gateway.bundles.may_read(window, stored)
