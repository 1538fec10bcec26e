"""Cross-field rules: declared per item in the catalogues, checked at load, shown in the guide, and
checked by the core at intake with every other problem (一次性告知), naming both materials."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.agencies.installed import load_registry
from gateway.agencies.plugin_manager import plugin_manager
from gateway.catalogue.files import load_items
from gateway.catalogue.items import Item
from gateway.config import load_settings
from gateway.errors import CatalogueError
from gateway.intake.validation import check_materials
from gateway.testing.samples import sample_materials
from tests.helpers import ORGANISATION, PAYMENT_RECORD, PERSON
from tests.test_catalogue import GOOD_ITEM

CATALOGUE = load_registry(plugin_manager(), load_settings(environ={}), check_settings=False).catalogue

# Every rule the five agencies' materials imply, by item; an item not named has none.
DECLARED = {
    "tax.payment-record": ["period_order"],
    "social_security.payment-certificate": ["period_order", "longest_span"],
    "medical.contribution-record": ["period_order", "longest_span"],
    "medical.newborn-enrolment": ["birth_date_in_id", "not_applicant"],
    "housing_fund.account-query": ["only_when"],
    "housing_fund.rent-withdrawal": ["period_order"],
    "property.registration-query": ["required_when"],
    "property.title-reissue": ["pledge_only_when"],
    "property.mortgage-registration": ["period_order", "not_applicant"],
    "social_security.card-application": ["not_applicant"],
}


def codes(code: str, materials: dict, *, pledged: frozenset[str] = frozenset(), applicant: dict = PERSON) -> list:
    item = CATALOGUE.get(code)
    assert item is not None
    found = check_materials(
        item,
        {**sample_materials(item), **materials},
        pledged=pledged,
        max_attachment_bytes=1 << 21,
        applicant_id=applicant["id_number"],
    )
    return [(p.path, p.code, p.related) for p in found]


def test_the_catalogues_declare_every_rule_their_materials_imply() -> None:
    assert {item.code: [rule.kind for rule in item.rules] for item in CATALOGUE if item.rules} == DECLARED


@pytest.mark.parametrize(
    ("code", "materials", "expected"),
    [
        (
            "tax.payment-record",
            {"period_start": "2025-06-01", "period_end": "2025-01-31"},
            [("materials/period_end", "period_order", ("materials/period_start",))],
        ),
        ("tax.payment-record", {"period_start": "2025-06-01", "period_end": "2025-06-01"}, []),  # one day
        (
            "housing_fund.rent-withdrawal",
            {"lease_start": "2025-03-01", "lease_end": "2025-03-01"},  # strict: a lease ends after it starts
            [("materials/lease_end", "period_order", ("materials/lease_start",))],
        ),
        (
            "social_security.payment-certificate",
            {"start_month": "2020-12", "end_month": "2025-12"},  # 61 months
            [("materials/end_month", "period_too_long", ("materials/start_month",))],
        ),
        (
            "housing_fund.account-query",
            {"include_details": False, "months": 12},
            [("materials/months", "not_applicable", ("materials/include_details",))],
        ),
        ("housing_fund.account-query", {"include_details": True, "months": 12}, []),
        (
            "property.registration-query",
            {"query_scope": "指定不动产单元", "unit_number": None},
            [("materials/unit_number", "required", ("materials/query_scope",))],
        ),
        (
            "property.mortgage-registration",
            {"debt_start": "2026-01-15", "debt_end": "2006-01-14"},
            [("materials/debt_end", "period_order", ("materials/debt_start",))],
        ),
    ],
)
def test_each_rule_reports_the_material_and_the_one_it_was_checked_against(
    code: str, materials: dict, expected: list
) -> None:
    assert codes(code, materials) == expected


def test_a_pledge_replaces_a_loss_statement_only_for_a_lost_certificate() -> None:
    damaged = codes("property.title-reissue", {"reason": "破损换证"}, pledged=frozenset({"loss_statement"}))
    assert damaged == [("pledge/replaces", "pledge_not_allowed", ("materials/reason",))]
    assert codes("property.title-reissue", {"reason": "遗失补证"}, pledged=frozenset({"loss_statement"})) == []


def test_an_id_number_that_is_the_applicants_own_is_refused() -> None:
    mortgage = codes(
        "property.mortgage-registration", {"mortgagee_credit_code": ORGANISATION["id_number"]}, applicant=ORGANISATION
    )
    assert mortgage == [("materials/mortgagee_credit_code", "is_applicant", ("applicant/id_number",))]


def test_a_malformed_value_is_reported_once_and_its_rules_skipped() -> None:
    found = codes("tax.payment-record", {"period_start": "2025-06-01", "period_end": "2025-13-01"})
    assert found == [("materials/period_end", "date", ())]


async def test_a_backwards_tax_period_is_refused_with_every_other_problem_and_nothing_sealed(gw) -> None:
    backwards = {
        **PAYMENT_RECORD,
        "materials": {"period_start": "2025-12-31", "period_end": "2025-01-01"},
        "operator": "no spaces allowed",
    }
    response = await gw.post(backwards)
    answer = await response.json()
    assert response.status == 422 and answer["type"] == "/problems/validation-failed"
    found = {(e["path"], e["code"]): e for e in answer["errors"]}
    order = found[("materials/period_end", "period_order")]
    assert order["related"] == ["materials/period_start"]
    assert order["message_zh"] == "查询截止日期不能早于查询起始日期"
    assert ("operator", "pattern") in found
    assert await gw.gateway.store.list_requests() == []
    assert gw.sandboxes["tax"].ledger.stats()["effective_submissions"] == 0


async def test_the_service_guide_states_the_rules(gw) -> None:
    guide = await (await gw.client.get("/v1/catalog/social_security.payment-certificate")).json()
    assert guide["rules"] == [
        {
            "kind": "period_order",
            "materials": ["start_month", "end_month"],
            "statement_zh": "查询终止年月（YYYY-MM）不能早于查询开始年月（YYYY-MM）",
            "statement_en": "end_month must not be before start_month",
            "unit": "month",
        },
        {
            "kind": "longest_span",
            "materials": ["start_month", "end_month"],
            "statement_zh": "查询开始年月（YYYY-MM）至查询终止年月（YYYY-MM）不能超过60个月，请分段办理",
            "statement_en": "start_month to end_month may span at most 60 months, both counted; ask for several",
            "unit": "month",
            "max": 60,
        },
    ]


ITEM = (
    GOOD_ITEM.replace('steps = ["受理"]\n', 'steps = ["受理"]\npledge_replaces = ["proof"]\n')
    + """
[[items.materials]]
name = "start"
type = "date"
description_zh = "开始日期"
[[items.materials]]
name = "end"
type = "date"
description_zh = "结束日期"
[[items.materials]]
name = "month"
type = "text"
description_zh = "年月"
[[items.materials]]
name = "scope"
type = "enum"
description_zh = "范围"
constraints = { choices = ["全部", "指定"] }
[[items.materials]]
name = "unit"
type = "text"
required = false
description_zh = "单元"
[[items.materials]]
name = "proof"
type = "attachment"
description_zh = "证明"
[[items.rules]]
"""
)


@pytest.mark.parametrize(
    ("rule", "field", "why"),
    [
        ('kind = "before"\nstart = "start"\nend = "end"', "'kind'", "must be one of"),
        ('kind = "period_order"\nstart = "start"\nend = "end"\nmax = 3', "'max'", "does not apply"),
        ('kind = "period_order"\nstart = "start"', "'end'", "needs it"),
        ('kind = "period_order"\nstart = "start"\nend = "finish"', "'end'", "names no material"),
        ('kind = "period_order"\nstart = "scope"\nend = "end"', "'start'", "scope has type enum"),
        ('kind = "period_order"\nstart = "start"\nend = "month"', "'end'", "start has type date but month text"),
        ('kind = "period_order"\nstart = "start"\nend = "end"\nstrict = "yes"', "'strict'", "true or false"),
        ('kind = "longest_span"\nstart = "start"\nend = "end"\nmax = 0', "'max'", "at least 1"),
        ('kind = "required_when"\nmaterial = "unit"\nwhen = "scope"\nequals = ["部分"]', "'equals'", "not values"),
        ('kind = "required_when"\nmaterial = "start"\nwhen = "scope"\nequals = ["指定"]', "'material'", "always"),
        (
            'kind = "required_when"\nmaterial = "unit"\nwhen = "start"\nequals = ["x"]',
            "'when'",
            "it needs enum or boolean",
        ),
        ('kind = "pledge_only_when"\nmaterial = "unit"\nwhen = "scope"\nequals = ["指定"]', "'material'", "pledge"),
        ('kind = "not_applicant"\nmaterial = "unit"', "'material'", "it needs resident_id or credit_code"),
    ],
)
def test_a_malformed_rule_stops_the_start_naming_item_rule_and_field(
    tmp_path: Path, rule: str, field: str, why: str
) -> None:
    path = tmp_path / "catalogue.toml"
    path.write_text(ITEM + rule + "\n", encoding="utf-8")
    with pytest.raises(CatalogueError) as info:
        load_items(path, plugin="demo-plugin", agency="demo")
    message = str(info.value)
    assert "plugin 'demo-plugin', item 'demo.thing', rule #1, field " + field in message and why in message, message


def test_a_month_period_needs_its_materials_to_have_a_pattern(tmp_path: Path) -> None:
    text = ITEM.replace('name = "start"\ntype = "date"', 'name = "start"\ntype = "text"')
    path = tmp_path / "catalogue.toml"
    path.write_text(text + 'kind = "period_order"\nstart = "start"\nend = "month"\n', encoding="utf-8")
    with pytest.raises(CatalogueError, match="pattern"):
        load_items(path, plugin="demo-plugin", agency="demo")


def test_every_rule_of_the_catalogues_is_checked_and_every_sample_passes_it() -> None:
    for item in CATALOGUE:
        assert codes_for(item) == [], item.code


def codes_for(item: Item) -> list:
    return codes(item.code, {}, applicant=PERSON if "person" in item.applicant_kinds else ORGANISATION)
