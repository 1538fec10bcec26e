"""Catalogue files: loading, the checks that stop a bad start, and filters."""

from pathlib import Path

import pytest

from gateway.catalogue import Catalogue, CatalogueError, load_items
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
