"""Ratings (好差评): once per finished request, by the caller that made it; bad ones open a follow-up
that an operator closes with ``onewindow ratings close``; every step stored and audited, comments masked."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import structlog

from gateway.cli.main import main
from gateway.ratings.grades import COMMENT_MAX_CHARS
from gateway.store import RequestStatus, utcnow
from gateway.store.plain_sql import Tables
from tests.audit_helpers import _LOG_LINE
from tests.helpers import KIOSK_KEY, PAYMENT_RECORD, PERSON, STATION_KEY, WINDOW_KEY
from tests.procs import write_config
from tests.test_store import record


async def finished_request(gw: Any, *, key: str = WINDOW_KEY, channel: str = "window") -> str:
    answer = await gw.post({**PAYMENT_RECORD, "channel": channel}, key=key)
    body = await answer.json()
    assert answer.status == 201 and body["status"] == "completed", body
    return str(body["id"])


async def rate(gw: Any, request_id: str, body: Any, *, key: str = WINDOW_KEY) -> Any:
    return await gw.client.post(
        f"/v1/requests/{request_id}/rating", json=body, headers={"Authorization": f"Bearer {key}"}
    )


async def ratings_cli(capsys: Any, config: Any, *argv: str) -> tuple[int, str, str]:
    """``onewindow ratings ARGV`` in a thread (it runs its own event loop): exit status, stdout, stderr."""
    capsys.readouterr()
    try:
        code = await asyncio.to_thread(main, ["ratings", *argv, "--config", str(config)])
    finally:
        structlog.reset_defaults()  # the command bound its log lines to this test's captured stderr
    captured = capsys.readouterr()
    out = "".join(line for line in captured.out.splitlines(keepends=True) if not _LOG_LINE.match(line))
    return code, out, captured.err


async def audit_entries(store: Any, request_id: str) -> list[dict[str, Any]]:
    rows = await Tables(store).rows(
        "SELECT kind, entry FROM audit_entries WHERE request_id = ? ORDER BY seq", request_id
    )
    return [json.loads(bytes(r["entry"])) for r in rows]


async def test_a_finished_request_is_rated_once_and_a_bad_grade_opens_a_follow_up(store_url, start_gateway) -> None:
    gw = await start_gateway(store_url)
    request_id = await finished_request(gw)
    answer = await rate(gw, request_id, {"grade": "不满意", "tags": ["too_slow", "repeated_visits"]})
    rating = await answer.json()
    assert answer.status == 201, rating
    assert answer.headers["Location"] == f"/v1/requests/{request_id}/rating"
    assert rating["grade"] == "dissatisfied" and rating["grade_zh"] == "不满意"
    assert rating["tags"] == ["too_slow", "repeated_visits"] and rating["follow_up"]["status"] == "open"

    again = await rate(gw, request_id, {"grade": "very_satisfied"})
    problem = await again.json()
    assert again.status == 409 and problem["type"] == "/problems/already-rated", problem
    shown = await (await gw.get(f"/v1/requests/{request_id}/rating")).json()
    assert shown == rating  # the second rating changed nothing

    metrics = await (await gw.client.get("/metrics")).text()
    assert 'onewindow_ratings_total{grade="dissatisfied",office="370303105000"} 1.0' in metrics
    recorded = [e for e in await audit_entries(gw.gateway.store, request_id) if e["kind"] == "rating.recorded"]
    assert len(recorded) == 1
    assert recorded[0]["fields"]["grade"] == "dissatisfied"
    assert recorded[0]["fields"]["follow_up"] == rating["follow_up"]["id"]


async def test_a_good_grade_opens_no_follow_up_and_the_chinese_words_are_accepted(start_gateway) -> None:
    gw = await start_gateway()
    request_id = await finished_request(gw)
    answer = await rate(gw, request_id, {"grade": "非常满意", "tags": ["done_in_one_visit"]})
    rating = await answer.json()
    assert answer.status == 201 and rating["grade"] == "very_satisfied" and rating["follow_up"] is None


async def test_a_request_still_being_handled_cannot_be_rated(start_gateway) -> None:
    gw = await start_gateway()
    waiting = record(status=RequestStatus.PENDING)
    await gw.gateway.store.insert_request(waiting)
    answer = await rate(gw, waiting.id, {"grade": "satisfied"})
    problem = await answer.json()
    assert answer.status == 409 and problem["type"] == "/problems/request-not-finished"
    assert problem["status_now"] == "pending"
    assert (await gw.get(f"/v1/requests/{waiting.id}/rating")).status == 404


async def test_only_the_caller_that_made_the_request_may_rate_it(start_gateway) -> None:
    gw = await start_gateway()
    at_the_kiosk = await finished_request(gw, key=KIOSK_KEY, channel="kiosk")
    # The town window reads its kiosk's requests (read_office_requests) but did not make this one.
    assert (await gw.get(f"/v1/requests/{at_the_kiosk}", key=WINDOW_KEY)).status == 200
    by_window = await rate(gw, at_the_kiosk, {"grade": "satisfied"}, key=WINDOW_KEY)
    assert by_window.status == 403 and (await by_window.json())["type"] == "/problems/forbidden"
    by_station = await rate(gw, at_the_kiosk, {"grade": "satisfied"}, key=STATION_KEY)
    assert by_station.status == 404  # not even visible to it
    by_kiosk = await rate(gw, at_the_kiosk, {"grade": "satisfied"}, key=KIOSK_KEY)
    assert by_kiosk.status == 201


async def test_every_problem_of_a_rating_is_listed_at_once(start_gateway) -> None:
    gw = await start_gateway()
    request_id = await finished_request(gw)
    body = {"grade": "great", "tags": ["fast", "free_coffee", "fast"], "comment": "好" * (COMMENT_MAX_CHARS + 1)}
    answer = await rate(gw, request_id, {**body, "stars": 5})
    problem = await answer.json()
    assert answer.status == 422 and problem["type"] == "/problems/validation-failed"
    found = {(e["path"], e["code"]) for e in problem["errors"]}
    assert found == {
        ("grade", "not_a_grade"),
        ("tags/1", "unknown_tag"),
        ("tags", "repeated"),
        ("comment", "too_long"),
        ("stars", "unknown_field"),
    }
    missing = await rate(gw, request_id, {})
    assert {(e["path"], e["code"]) for e in (await missing.json())["errors"]} == {("grade", "required")}
    assert (await gw.get(f"/v1/requests/{request_id}/rating")).status == 404  # nothing kept


async def test_a_comment_is_kept_and_audited_with_identifiers_and_the_applicants_name_masked(
    store_url, start_gateway, capfd
) -> None:
    gw = await start_gateway(store_url)
    request_id = await finished_request(gw)
    said = f"我是{PERSON['name']}，身份证{PERSON['id_number']}，电话13805330123，等了很久"
    answer = await rate(gw, request_id, {"grade": "very_dissatisfied", "comment": said})
    rating = await answer.json()
    assert answer.status == 201
    kept = rating["comment"]
    assert PERSON["id_number"] not in kept and "13805330123" not in kept and PERSON["name"] not in kept
    assert "等了很久" in kept and PERSON["name"][0] in kept  # the substance stays, the person does not
    rows = await Tables(gw.gateway.store).rows("SELECT comment FROM ratings WHERE request_id = ?", request_id)
    assert rows == [{"comment": kept}]
    entry = next(e for e in await audit_entries(gw.gateway.store, request_id) if e["kind"] == "rating.recorded")
    text = json.dumps(entry, ensure_ascii=False)
    assert "等了很久" not in text and PERSON["id_number"] not in text
    assert entry["fields"]["comment_chars"] == len(kept) and entry["fields"]["comment_digest"].startswith("hmac")
    logged = capfd.readouterr()
    assert PERSON["id_number"] not in logged.out + logged.err and "等了很久" not in logged.out + logged.err


async def test_a_refused_request_is_kept_with_its_problems_and_no_values(store_url, start_gateway) -> None:
    gw = await start_gateway(store_url)
    bad = {**PAYMENT_RECORD, "materials": {"period_start": "not a date"}, "applicant": {**PERSON, "id_number": "1"}}
    answer = await gw.post(bad)
    problem = await answer.json()
    assert answer.status == 422
    rows = await Tables(gw.gateway.store).rows("SELECT * FROM refusals", json=("problems",))
    assert len(rows) == 1 and rows[0]["request_id"] == problem["request_id"]
    assert rows[0]["office"] == PAYMENT_RECORD["office"] and rows[0]["item"] == "tax.payment-record"
    assert rows[0]["channel"] == "window" and rows[0]["caller_id"] == "fangzhen-window"
    assert sorted(rows[0]["problems"]) == sorted(f"{e['path']}:{e['code']}" for e in problem["errors"])
    assert "not a date" not in json.dumps(rows[0]["problems"], ensure_ascii=False)


async def test_an_operator_lists_open_follow_ups_and_closes_one_with_a_note(
    store_url, start_gateway, district, tmp_path, capsys
) -> None:
    gw = await start_gateway(store_url)
    bad_id = await finished_request(gw)
    good_id = await finished_request(gw)
    bad = await (await rate(gw, bad_id, {"grade": "very_dissatisfied", "comment": "窗口让我跑了三次"})).json()
    await rate(gw, good_id, {"grade": "satisfied"})
    follow_up = bad["follow_up"]["id"]
    config = write_config(tmp_path / "onewindow.toml", store_url=store_url, district=district)

    code, out, err = await ratings_cli(capsys, config, "list", "--open", "--json")
    assert code == 0, err
    listed = json.loads(out)
    assert [(r["request_id"], r["follow_up"]["id"]) for r in listed] == [(bad_id, follow_up)]
    code, out, _ = await ratings_cli(capsys, config, "list", "--office", "370303105000")
    assert code == 0 and bad_id not in out and "非常不满意" in out and "满意" in out  # no request ids needed
    code, out, _ = await ratings_cli(capsys, config, "list", "--office", "370303007000", "--json")
    assert code == 0 and json.loads(out) == []

    note = f"已回访申请人 {PERSON['id_number']}，改为一次办结"
    code, out, err = await ratings_cli(capsys, config, "close", follow_up, "--note", note, "--by", "ops-li")
    assert code == 0, err
    assert "closed by ops-li" in out
    code, out, _ = await ratings_cli(capsys, config, "list", "--open", "--json")
    assert json.loads(out) == []
    code, out, _ = await ratings_cli(capsys, config, "list", "--json")
    closed = next(r for r in json.loads(out) if r["request_id"] == bad_id)["follow_up"]
    assert closed["status"] == "closed" and closed["closed_by"] == "ops-li"
    assert PERSON["id_number"] not in closed["note"] and "改为一次办结" in closed["note"]
    act = [e for e in await audit_entries(gw.gateway.store, bad_id) if e["kind"] == "admin.rating_follow_up_closed"]
    assert len(act) == 1 and act[0]["fields"]["by"] == "ops-li" and act[0]["fields"]["follow_up"] == follow_up
    assert PERSON["id_number"] not in json.dumps(act, ensure_ascii=False)

    code, out, err = await ratings_cli(capsys, config, "close", follow_up, "--note", "again")
    assert code == 2 and "was closed by ops-li" in err and len(err.strip().splitlines()) == 1
    code, out, err = await ratings_cli(capsys, config, "close", "NO-SUCH", "--note", "x")
    assert code == 2 and "no follow-up NO-SUCH" in err
    code, out, err = await ratings_cli(capsys, config, "close", follow_up, "--note", " ")
    assert code == 2 and "--note" in err


async def test_a_rating_targets_a_request_or_a_bundle_never_both(store) -> None:
    tables = Tables(store)
    now = utcnow()
    insert = (
        "INSERT INTO ratings (id, request_id, bundle_id, caller_id, office, channel, item, grade, tags, rated_at) "
        "VALUES (?, ?, ?, 'c', 'o', 'window', 'i', 'satisfied', ?, ?)"
    )
    await tables.write([(insert, ["r1", None, "B1", [], now])])  # a bundle's rating
    for request_id, bundle_id in (("R2", "B2"), (None, None)):
        try:
            await tables.write([(insert, [f"r-{request_id}", request_id, bundle_id, [], now])])
        except Exception as exc:  # both backends refuse it: the CHECK constraint
            assert "check" in str(exc).lower() or "constraint" in str(exc).lower()
        else:
            raise AssertionError("a rating of both (or neither) was stored")


async def test_a_signed_rating_is_accepted_and_its_signature_is_checked_once(gw) -> None:
    from gateway.callers.signing_client import sign
    from tests.signed import body_of, hmac_key_for

    request_id = await finished_request(gw)
    key = await hmac_key_for(gw.gateway.store)
    path = f"/v1/requests/{request_id}/rating"
    body = body_of({"grade": "satisfied", "tags": ["fast"]})
    signed = {"Content-Type": "application/json", **sign("POST", str(gw.client.make_url(path)), body, key)}
    answer = await gw.client.post(path, data=body, headers=signed)
    assert answer.status == 201, await answer.text()  # one nonce, used once: not refused as a replay
    replayed = await gw.client.post(path, data=body, headers=signed)
    assert replayed.status == 401  # the same signature again is a replay, refused before anything is looked at


async def test_a_completed_bundle_is_rated_once_as_one_service_and_its_steps_are_not_rated_apart(gw) -> None:
    from tests.test_bundles import NEWBORN, post_bundle

    answer = await post_bundle(gw, NEWBORN)
    bundle = await answer.json()
    assert answer.status == 201 and bundle["status"] == "completed", bundle
    step = bundle["steps"][0]["request"]["id"]
    apart = await rate(gw, step, {"grade": "satisfied"})
    problem = await apart.json()
    assert apart.status == 409 and problem["type"] == "/problems/rate-the-bundle"
    assert problem["rating"] == f"/v1/bundles/{bundle['id']}/rating"

    path = f"/v1/bundles/{bundle['id']}/rating"
    headers = {"Authorization": f"Bearer {WINDOW_KEY}"}
    rated = await gw.client.post(path, json={"grade": "非常不满意", "comment": "三个部门跑了一上午"}, headers=headers)
    rating = await rated.json()
    assert rated.status == 201 and rating["bundle_id"] == bundle["id"] and rating["follow_up"]["status"] == "open"
    assert (await gw.client.post(path, json={"grade": "satisfied"}, headers=headers)).status == 409
    assert await (await gw.client.get(path, headers=headers)).json() == rating
    by_kiosk = await gw.client.post(path, json={"grade": "satisfied"}, headers={"Authorization": f"Bearer {KIOSK_KEY}"})
    assert by_kiosk.status == 404  # the kiosk may not read the window's bundle
    rows = await Tables(gw.gateway.store).rows(
        "SELECT item, office, bundle_id, request_id FROM ratings WHERE bundle_id = ?", bundle["id"]
    )
    assert rows == [{"item": NEWBORN["chain"], "office": "370303105000", "bundle_id": bundle["id"], "request_id": None}]
    recorded = [e for e in await audit_entries(gw.gateway.store, bundle["id"]) if e["kind"] == "rating.recorded"]
    assert len(recorded) == 1 and recorded[0]["fields"]["rated"] == "bundle"


async def test_rating_a_proxy_handled_request_completes_its_sixth_step(gw) -> None:
    from tests.test_proxy_handling import HELPER_KEY, PROXIED

    answer = await gw.post(PROXIED, key=HELPER_KEY)
    view = await answer.json()
    assert answer.status == 201, view
    assert view["proxy"]["steps"][-1]["state"] == "waiting"
    assert (await rate(gw, view["id"], {"grade": "very_satisfied"}, key=HELPER_KEY)).status == 201
    shown = await (await gw.get(f"/v1/requests/{view['id']}", key=HELPER_KEY)).json()
    last = shown["proxy"]["steps"][-1]
    assert last["step"] == "rating_archiving" and last["state"] == "completed" and last["at"]
