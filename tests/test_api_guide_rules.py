"""docs/api.md states the rules integrators need as the gateway applies them: each figure is checked here."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gateway.api import guard
from gateway.catalogue.items import FILTERS
from gateway.catalogue.materials import MATERIAL_TYPES, MAX_LIST_ITEMS
from gateway.config import MAX_CALLBACK_URL_LENGTH, load_settings
from gateway.delivery.callbacks import CallbackSender
from gateway.delivery.failures import retry_delay
from gateway.intake import envelope, validation
from tests.helpers import PAYMENT_RECORD

GUIDE = (Path(__file__).parents[1] / "docs" / "api.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = GUIDE.index(title)
    following = re.search(r"\n##+ ", GUIDE[start + len(title) :])
    return GUIDE[start : start + len(title) + following.start()] if following else GUIDE[start:]


def row(table_text: str, first_cell: str) -> str:
    (line,) = [line for line in table_text.splitlines() if line.startswith(f"| {first_cell}")]
    return line


def test_the_limits_table_gives_the_lengths_the_gateway_checks() -> None:
    limits = section("## Limits")
    assert "100, 64, 2000 characters" in row(limits, "`applicant/name`, `operator`, `callback_url`")
    assert (envelope.MAX_NAME_LENGTH, envelope.MAX_OPERATOR_LENGTH, MAX_CALLBACK_URL_LENGTH) == (100, 64, 2000)
    assert "2000, 100 characters" in row(limits, "`pledge/statement`")
    assert (envelope.MAX_STATEMENT_LENGTH, envelope.MAX_SIGNED_BY_LENGTH) == (2000, 100)
    assert f"{validation.MAX_FILENAME_LENGTH} characters" in row(limits, "an attachment's `filename`")
    assert f"({MAX_LIST_ITEMS} unless" in row(limits, "a list material's entries")
    assert f"{guard.MAX_HEADER_FIELD_BYTES} bytes" in row(limits, "one header field")
    assert f"| {guard.MAX_HEADERS} |" in row(limits, "header fields")


def test_the_catalogue_filters_documented_are_the_ones_the_gateway_takes() -> None:
    table = section("## Finding items: the catalogue")
    documented = re.findall(r"^\| `(\w+)` \|", table, re.MULTILINE)
    assert documented == list(FILTERS)
    for name, kind in FILTERS.items():
        if isinstance(kind, tuple):
            assert all(f"`{value}`" in row(table, f"`{name}`") for value in kind), name


def test_every_material_type_is_documented() -> None:
    table = section("### Materials")
    documented = {
        t for line in re.findall(r"^\| (`[^|]+`) \|", table, re.MULTILINE) for t in re.findall(r"`(\w+)`", line)
    }
    assert documented == set(MATERIAL_TYPES)


def test_the_household_members_shown_are_the_catalogues_sample(gw) -> None:
    block = section("### Materials").split("```json")[1].split("```")[0]
    members = json.loads("{" + block.strip() + "}")["members"]
    assert members == gw.gateway.registry.catalogue.get("medical.resident-enrolment").material("members").sample


def test_the_callback_schedule_documented_is_the_one_the_gateway_keeps() -> None:
    callbacks = " ".join(section("## Callbacks").split())
    outbox = load_settings(environ={}).outbox
    assert (outbox.retry_initial_s, outbox.retry_max_s, outbox.callback_max_age_hours) == (2.0, 300.0, 24.0)
    first, capped = outbox.retry_initial_s, outbox.retry_max_s
    assert f"about {first / 2:.0f}-{first:.0f} s after the first attempt" in callbacks
    assert f"at most {capped / 2:.0f}-{capped:.0f} s between" in callbacks
    assert all(first / 2 <= retry_delay(outbox, 1) <= first for _ in range(50))
    assert all(capped / 2 <= retry_delay(outbox, 30) <= capped for _ in range(50))
    assert "within 10 seconds" in callbacks
    assert CallbackSender.__init__.__kwdefaults__["timeout_s"] == 10.0
    assert "**at least once**" in callbacks


def test_the_answers_table_lists_every_202() -> None:
    answers = section("### Answers")
    for status in ("pending", "deferred", "accepted"):
        assert f"| `202` | `status: {status}` |" in answers


async def test_audit_proof_awaiting_checkpoint_is_documented_as_it_is_answered(gw) -> None:
    from gateway.api.audit import _AWAITING

    assert set(_AWAITING["properties"]) == {"status", "entry", "checkpoint_size", "retry_after_s"}
    text = " ".join(section("### Answers").split())
    assert '`{"status": "awaiting_checkpoint", "entry": …, "checkpoint_size": …, "retry_after_s": …}`' in text


@pytest.mark.parametrize(
    ("key", "status"), [("k" * 255, 201), ("k" * 256, 400), ("two words", 400), ("ключ", 400), ("a:b/c=d", 201)]
)
async def test_an_idempotency_key_is_1_to_255_visible_ascii_characters(gw, key: str, status: int) -> None:
    assert "1 to 255 visible ASCII characters" in " ".join(section("## Retrying safely").split())
    answer = await gw.post(PAYMENT_RECORD, **{"Idempotency-Key": key}) if key.isascii() else None
    if answer is None:  # a client cannot even put non-ASCII in a header; the gateway's reader refuses it too
        assert status == 400
        return
    assert answer.status == status, await answer.text()


async def test_a_body_the_gateway_cannot_read_is_400_and_one_it_reads_and_finds_wrong_is_422(gw) -> None:
    assert "**400 or 422.**" in GUIDE
    headers = {"Authorization": "Bearer sample-fangzhen-window-key", "Content-Type": "application/json"}
    unreadable = await gw.client.post("/v1/requests", data=b'{"item": "a", "item": "b"}', headers=headers)
    not_an_object = await gw.client.post("/v1/requests", data=b"[1, 2]", headers=headers)
    assert unreadable.status == not_an_object.status == 400
    wrong = await gw.post({**PAYMENT_RECORD, "operator": "fz 01", "materials": {}})
    assert wrong.status == 422 and len((await wrong.json())["errors"]) >= 3
