"""List and object materials: declared in the catalogue, checked by the core with paths into them, all at once.

The real case is a household enrolling together in resident medical
insurance (以家庭为单位参保): the members are a list of objects, each with a
name, a resident ID number, a relation and a group, checked by the core
-- not a JSON string inside a text material checked by a plugin after the
core's checks passed -- and then by the bureau member by member.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from gateway.agencies.installed import load_registry
from gateway.agencies.plugin_manager import plugin_manager
from gateway.catalogue.files import load_items
from gateway.catalogue.materials import MATERIAL_TYPES
from gateway.config import load_settings
from gateway.errors import CatalogueError
from gateway.intake import validation
from gateway.intake.envelope import parse_envelope
from gateway.intake.item_schema import example_envelopes
from tests.test_catalogue import GOOD_ITEM, write

ENROLMENT = "medical.resident-enrolment"
MEMBERS = [
    {"name": "李娜", "id_number": "370303199103080040", "relation": "配偶", "population_group": "成年居民"},
    {"name": "张小雨", "id_number": "370303201506010020", "relation": "子女", "population_group": "中小学生及婴幼儿"},
]
STRUCTURED = (
    GOOD_ITEM
    + """
[[items.materials]]
name = "properties"
type = "list"
required = false
description_zh = "房产"
constraints = { max_items = 3 }

[items.materials.items]
type = "object"
description_zh = "一处房产"

[[items.materials.items.fields]]
name = "certificate_no"
type = "text"
description_zh = "不动产权证书号"
constraints = { pattern = "^[0-9]{7}$" }

[[items.materials.items.fields]]
name = "share"
type = "number"
required = false
description_zh = "份额"
constraints = { minimum = 0, maximum = 1 }
"""
)


def enrolment(gw, **materials) -> dict:
    """The household example of resident enrolment, with ``materials`` changed."""
    item = gw.gateway.registry.catalogue.get(ENROLMENT)
    envelope = copy.deepcopy(example_envelopes(item, gw.gateway.settings.offices.values())[1])
    envelope["materials"].update(materials)
    return envelope


def test_every_material_type_of_the_catalogue_has_a_check() -> None:
    assert set(validation._CHECKS) == set(MATERIAL_TYPES)


def test_a_list_of_objects_loads_with_its_entries_and_fields(tmp_path: Path) -> None:
    (item,) = load_items(write(tmp_path, STRUCTURED), plugin="demo", agency="demo")
    listed = item.material("properties")
    assert listed.constraints == {"min_items": 1, "max_items": 3}  # min_items defaults to 1
    assert [f.name for f in listed.items.fields] == ["certificate_no", "share"]
    guide = item.guide()["materials"][1]
    assert guide["items"]["fields"][0]["name"] == "certificate_no"


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (('type = "list"', 'type = "text"'), "['max_items'] do not apply to type 'text'"),
        (('[items.materials.items]\ntype = "object"', '[items.materials.items]\ntype = "list"'), "'fields': applies"),
        (("constraints = { max_items = 3 }", "constraints = { max_items = 3 }\nfields = []"), "'fields': applies"),
        (('name = "share"', 'name = "certificate_no"'), "field names repeat"),
        (
            ("constraints = { max_items = 3 }", "constraints = { min_items = 4, max_items = 3 }"),
            "min_items <= max_items",
        ),
        (
            (
                'type = "object"\ndescription_zh = "一处房产"',
                'type = "object"\nsample = 1\ndescription_zh = "一处房产"',
            ),
            "'sample'",
        ),
    ],
)
def test_a_malformed_structured_material_stops_the_start_naming_the_place(tmp_path: Path, change, says) -> None:
    with pytest.raises(CatalogueError, match="material 'properties'") as caught:
        load_items(write(tmp_path, STRUCTURED.replace(*change)), plugin="demo", agency="demo")
    assert says in str(caught.value)


async def test_every_problem_inside_the_members_is_reported_at_once_with_its_path(gw) -> None:
    wrong = copy.deepcopy(MEMBERS)
    wrong[0]["id_number"] = "370303199103080041"  # check character
    wrong[1]["relation"] = "邻居"
    del wrong[1]["population_group"]
    wrong.append(
        {
            "name": "张三",
            "id_number": "370303199001011239",
            "relation": "子女",
            "population_group": "成年居民",
            "age": 3,
        }
    )
    answer = await gw.post(enrolment(gw, members=wrong, contact_phone="1234"))
    assert answer.status == 422
    found = {(p["path"], p["code"]) for p in (await answer.json())["errors"]}
    assert found == {
        ("materials/members/0/id_number", "invalid_check_digit"),
        ("materials/members/1/relation", "choice"),
        ("materials/members/1/population_group", "required"),
        ("materials/members/2/age", "unknown_field"),
        ("materials/contact_phone", "invalid_format"),
    }
    messages = {p["path"]: p["message_zh"] for p in (await answer.json())["errors"]}
    assert messages["materials/members/1/relation"].startswith("一并参保的家庭成员第2项的与申请人关系")


async def test_a_list_is_bounded_and_must_be_a_list(gw) -> None:
    too_many = [dict(MEMBERS[0], name=f"成员{n}") for n in range(11)]
    answer = await gw.post(enrolment(gw, members=too_many))
    errors = (await answer.json())["errors"]
    assert ("materials/members", "too_many") in {(p["path"], p["code"]) for p in errors}
    assert len(errors) == 1  # the entries past the cap are not checked one by one
    for shape in ("李娜", {"name": "李娜"}, []):
        answer = await gw.post(enrolment(gw, members=shape))
        assert answer.status == 422, shape


async def test_the_household_enrols_together_and_the_bureau_answers_for_each_member(gw) -> None:
    answer = await gw.post(enrolment(gw, members=MEMBERS))
    body = await answer.json()
    assert answer.status == 201 and body["status"] == "completed", body
    content = body["result"]["content"]
    assert [m["name"] for m in content["household_members"]] == ["李娜", "张小雨"]
    assert content["household_contribution"] == "1200.00"


async def test_a_member_already_insured_as_an_employee_is_refused_by_name(gw) -> None:
    insured = {"name": "陈立新", "id_number": "37030319720608351X", "relation": "父母", "population_group": "成年居民"}
    answer = await gw.post(enrolment(gw, members=[MEMBERS[0], insured]))
    body = await answer.json()
    assert body["status"] == "rejected"
    assert any("家庭成员第2位（陈立新）" in r["message_zh"] for r in body["reasons"])


def test_an_integer_material_reads_2023_0_as_2023_and_the_plugin_gets_an_int() -> None:
    settings = load_settings(environ={})
    item = load_registry(plugin_manager(), settings, check_settings=False).catalogue.get("medical.contribution-record")
    envelope = example_envelopes(item, settings.offices.values())[0]
    envelope["materials"] = {"start_year": 2023.0, "end_year": 2025}  # JSON has no integer type: 2023.0 is 2023
    parsed, problems = parse_envelope(envelope, item, max_attachment_bytes=1 << 20)
    assert problems == [] and parsed.materials["start_year"] == 2023 and type(parsed.materials["start_year"]) is int
    envelope["materials"]["start_year"] = 2023.5
    _, problems = parse_envelope(envelope, item, max_attachment_bytes=1 << 20)
    assert [p.code for p in problems] == ["type"]
