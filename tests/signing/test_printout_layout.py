"""Printout layouts: declared in catalogue data, checked when loaded, never leaving part of a document off the paper."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.catalogue.files import load_items
from gateway.errors import CatalogueError
from signing.errors import LayoutError
from signing.printout.layout import GENERIC, mask_identifier, parse_layout, printed_values, sheet_for, shown
from tests.printouts import result_document

DOCUMENT = result_document(
    "housing_fund.deposit-certificate",
    ("住房公积金缴存证明开具", "Deposit certificate"),
    {
        "certificate_no": "张公积证字〔2026〕第083801号",
        "balance": "81105.87",
        "employer": {"name": "淄博东村精工机械有限公司", "credit_code": "91370303MA3C4XY85N"},
        "deposits": [{"month": "202611", "amount": "985.20", "kind": "汇缴"}],
        "flags": ["正常", "连续"],
        "closed": False,
    },
)
LAYOUT = {
    "title": "住房公积金缴存证明",
    "fields": [{"key": "certificate_no", "label": "证明编号"}, {"key": "employer.name", "label": "缴存单位"}],
    "tables": [{"key": "deposits", "title": "缴存记录", "columns": [{"key": "month", "label": "缴存年月"}]}],
    "note": "以上信息以住房公积金管理中心系统记载为准。",
}


def test_a_declared_layout_prints_its_labels_and_every_member_it_does_not_name_after_them() -> None:
    sheet = sheet_for(DOCUMENT, parse_layout(LAYOUT))
    assert sheet.title == "住房公积金缴存证明" and sheet.note.startswith("以上信息")
    assert sheet.fields == (("证明编号", "张公积证字〔2026〕第083801号"), ("缴存单位", "淄博东村精工机械有限公司"))
    (table,) = sheet.tables
    assert table.headers == ("缴存年月", "amount", "kind")  # undeclared columns follow by their names
    assert table.rows == (("202611", "985.20", "汇缴"),)
    extra = dict(sheet.extra_fields)
    assert extra == {
        "balance": "81105.87",
        "employer.credit_code": "91370303MA3C4XY85N",
        "flags": "正常、连续",
        "closed": "否",
    }
    printed = dict(printed_values(DOCUMENT))  # what a verifier asks the pages for, whatever the layout
    assert printed["balance"] == "81105.87" and printed["deposits[0].amount"] == "985.20"
    assert printed["employer.name"] == "淄博东村精工机械有限公司" and printed["证件号码"] == "370303********1239"


def test_the_generic_layout_labels_every_member_by_its_name_with_the_item_name_as_title() -> None:
    sheet = sheet_for(DOCUMENT, GENERIC)
    assert sheet.title == "住房公积金缴存证明开具" and not sheet.extra_fields
    assert ("employer.name", "淄博东村精工机械有限公司") in sheet.fields
    assert [t.title for t in sheet.tables] == ["deposits"]


def test_the_facts_print_the_resident_id_masked_and_missing_facts_as_a_dash() -> None:
    header = dict(sheet_for({**DOCUMENT, "agency_reference": None}, GENERIC).header)
    assert header["证件号码"] == "370303********1239" and header["文书编号"] == "—"
    assert mask_identifier("91370303MA3C4XY85N") == "913703********Y85N"
    assert shown(None) == shown("") == "—" and shown(True) == "是" and shown(2.0) == "2"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"titel": "x"}, "unknown key(s) ['titel']"),
        ({"fields": [{"key": "a", "label": ""}]}, "'label' must be a non-empty string"),
        ({"fields": [{"key": "a b", "label": "x"}]}, "must be a member name or a dotted path"),
        ({"fields": [{"key": "a", "label": "x"}, {"key": "a", "label": "y"}]}, "printed twice"),
        ({"tables": [{"key": "rows", "title": "t", "columns": []}]}, "at least one column"),
        ({"tables": [{"key": "rows", "title": "t", "columns": [{"key": "a", "label": "x", "width": 3}]}]}, "width"),
        ({"fields": "certificate_no"}, "must be a list"),
    ],
)
def test_a_malformed_layout_is_refused_naming_the_key(change: dict[str, Any], named: str) -> None:
    with pytest.raises(
        LayoutError, match=named.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(").replace(")", r"\)")
    ):
        parse_layout({"title": "t", **change})


def test_a_catalogue_whose_printout_is_malformed_stops_the_load_naming_plugin_and_item(tmp_path: Path) -> None:
    source = (Path(__file__).resolve().parents[2] / "plugins" / "tax" / "catalogue.toml").read_text(encoding="utf-8")
    broken = source.replace(
        '{ key = "total", label = "实缴（退）金额合计（元）" },', '{ key = "total", lable = "合计" },'
    )
    assert broken != source
    (tmp_path / "catalogue.toml").write_text(broken, encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"plugin 'tax', item 'tax.payment-record', printout.fields\[1\]"):
        load_items(tmp_path / "catalogue.toml", plugin="tax", agency="tax")
