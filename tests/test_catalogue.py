"""Catalogue files: loading, the checks that stop a bad start, and filters."""

from pathlib import Path

import pytest

from gateway.catalogue.files import load_items
from gateway.catalogue.items import Catalogue
from gateway.errors import CatalogueError
from plugins.tax.client import CATALOGUE as TAX_CATALOGUE

GOOD_ITEM = """
[[items]]
code = "demo.thing"
name_zh = "示例事项"
name_en = "Demo"
kind = "query"
seal = "service_centre"
office_levels = ["town"]
channels = ["window"]
applicant_kinds = ["person"]
legal_basis = ["某法第一条"]
time_limit_days = 0
steps = ["受理"]
[[items.materials]]
name = "year"
type = "integer"
required = true
description_zh = "年度"
constraints = { minimum = 2000 }
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "catalogue.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_catalogue_loads(tmp_path: Path) -> None:
    (item,) = load_items(write(tmp_path, GOOD_ITEM), plugin="demo-plugin", agency="demo")
    assert item.code == "demo.thing" and item.plugin == "demo-plugin"
    assert item.material("year").constraints == {"minimum": 2000}
    assert item.guide()["materials"][0]["description_zh"] == "年度"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (('kind = "query"', 'kind = "question"'), "'kind'"),
        (('seal = "service_centre"', 'seal = "red"'), "'seal'"),
        (('office_levels = ["town"]', 'office_levels = ["county"]'), "'office_levels'"),
        (('channels = ["window"]', "channels = []"), "'channels'"),
        (("time_limit_days = 0", 'time_limit_days = "soon"'), "'time_limit_days'"),
        (('code = "demo.thing"', 'code = "tax.thing"'), "'code'"),
        (('name_zh = "示例事项"\n', ""), "'name_zh'"),
        (('type = "integer"', 'type = "integer"\nrequried = true'), "'requried'"),
        (('steps = ["受理"]', 'steps = ["受理"]\nlong_runing = true'), "'long_runing'"),
        (("constraints = { minimum = 2000 }", 'constraints = { pattern = "x" }'), "'constraints'"),
    ],
)
def test_a_malformed_item_names_plugin_item_and_field(tmp_path: Path, change: tuple[str, str], field: str) -> None:
    text = GOOD_ITEM.replace(*change)
    with pytest.raises(CatalogueError) as info:
        load_items(write(tmp_path, text), plugin="demo-plugin", agency="demo")
    message = str(info.value)
    assert "plugin 'demo-plugin'" in message and field in message
    if "code" not in field:
        assert "item 'demo.thing'" in message


def test_pledge_may_only_replace_materials_of_the_item(tmp_path: Path) -> None:
    text = GOOD_ITEM.replace("steps = [", 'pledge_replaces = ["marriage_certificate"]\nsteps = [')
    with pytest.raises(CatalogueError, match=r"pledge_replaces.*marriage_certificate"):
        load_items(write(tmp_path, text), plugin="p", agency="demo")


def test_a_missing_or_broken_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="does not exist"):
        load_items(tmp_path / "nope.toml", plugin="p", agency="demo")
    with pytest.raises(CatalogueError, match="not TOML"):
        load_items(write(tmp_path, "[[items]\n"), plugin="p", agency="demo")


def test_two_plugins_cannot_declare_the_same_item(tmp_path: Path) -> None:
    (item,) = load_items(write(tmp_path, GOOD_ITEM), plugin="a", agency="demo")
    catalogue = Catalogue([item])
    with pytest.raises(CatalogueError, match="already declared by plugin 'a'"):
        catalogue.add(item)


def test_the_tax_catalogue_is_valid_and_filterable() -> None:
    catalogue = Catalogue(load_items(TAX_CATALOGUE, plugin="tax", agency="tax"))
    assert len(catalogue) >= 6
    village = catalogue.filter(office_level="village_station")
    assert village and all("village_station" in i.office_levels for i in village)
    outlets = catalogue.filter(channel="partner_outlet")
    assert {i.code for i in outlets} >= {"tax.payment-record", "tax.credit-grade"}
    for item in catalogue:
        assert item.legal_basis and item.steps and item.name_zh
        for material in item.materials:
            assert material.sample is not None, f"{item.code}/{material.name} has no sample"


def test_catalog_show_states_every_materials_constraints(capsys: pytest.CaptureFixture[str]) -> None:
    from gateway.cli.main import main

    assert main(["catalog", "show", "tax.clearance-certificate"]) == 0
    out = capsys.readouterr().out
    assert "reason [enum, required] 清税原因 — one of: 注销登记, 迁出本区, 经营期满" in out
    assert "contact_phone [phone, required] 经办人联系电话 — mainland mobile number" in out
    assert "— media types: application/pdf, image/jpeg, image/png; at most 1 MiB (a pledge may replace it)" in out
    assert main(["catalog", "show", "tax.payment-record"]) == 0
    out = capsys.readouterr().out
    assert "period_start [date, required] 查询起始日期 — YYYY-MM-DD; not after today" in out
    assert (
        "rules across materials:\n    - period_end must not be before period_start (查询截止日期不能早于查询起始日期)"
        in out
    )


def test_constraint_notes_give_ranges_patterns_and_the_effective_size_limit() -> None:
    from gateway.catalogue.materials import Material

    def notes(kind: str, max_attachment_bytes: int | None = None, **constraints) -> list[str]:
        return Material("m", kind, True, "材料", constraints=constraints).constraint_notes(max_attachment_bytes)

    assert notes("text", min_length=2, max_length=30, pattern="^[A-Z]\\d{9}$") == [
        "2-30 characters",
        "pattern ^[A-Z]\\d{9}$",
    ]
    assert notes("text", max_length=60) == ["at most 60 characters"]
    assert notes("integer", minimum=2000, maximum=2100) == ["from 2000 to 2100"]
    assert notes("number", minimum=0.01) == ["at least 0.01"]
    assert notes("boolean") == []
    assert notes("attachment", 2 << 20, media_types=["application/pdf"], max_bytes=4 << 20) == [
        "media types: application/pdf",
        "at most 2 MiB (the item allows 4 MiB; server.max_attachment_bytes is lower)",
    ]
    assert notes("attachment", 2 << 20, max_bytes=204800) == ["at most 200 KiB"]
    assert notes("attachment", 2 << 20) == ["at most 2 MiB"]


def test_catalog_list_of_an_agency_that_is_not_installed_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    from gateway.cli.main import main

    assert main(["catalog", "list", "--agency", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no agency 'nope' is installed" in err and "housing_fund, medical, property, social_security, tax" in err
    assert "\n" not in err
    assert main(["catalog", "list", "--agency", "tax"]) == 0
    assert "tax.clearance-certificate" in capsys.readouterr().out


def test_every_material_type_of_the_catalogue_has_a_check() -> None:
    from gateway.catalogue.materials import MATERIAL_TYPES
    from gateway.intake.validation import _CHECKS

    assert set(_CHECKS) == set(MATERIAL_TYPES)
