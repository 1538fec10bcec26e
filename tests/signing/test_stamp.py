"""The seal picture is valid standalone SVG with the parts people expect."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from signing.stamp import RED, render_stamp_svg

SVG = "{http://www.w3.org/2000/svg}"


def test_stamp_has_rim_arc_name_star_kind_words_and_number() -> None:
    svg = render_stamp_svg("淄博市张店区马尚街道便民服务中心", "370303-BM-0002", "service_centre")
    root = ET.fromstring(svg.encode("utf-8"))
    assert root.tag == f"{SVG}svg" and root.get("viewBox") == "0 0 200 200"
    circles = root.findall(f".//{SVG}circle")
    assert len(circles) == 2 and {c.get("r") for c in circles} == {"95", "89"}
    assert all(c.get("cx") == "100.0" for c in circles)
    arc = root.find(f".//{SVG}defs/{SVG}path")
    assert arc is not None
    # "M x1,y1 A r,r 0 1,1 x2,y2": from lower left to lower right, clockwise over the top.
    move, _, arc_to = arc.get("d", "").partition(" A ")
    x1, y1 = map(float, move.removeprefix("M ").split(","))
    radius, _, flags, x2y2 = arc_to.split(" ", 3)
    x2, y2 = map(float, x2y2.split(","))
    assert flags == "1,1" and float(radius.split(",")[0]) < 89
    assert y1 == y2 > 100 and x1 < 100 < x2 and abs((100 - x1) - (x2 - 100)) < 0.01
    text_path = root.find(f".//{SVG}textPath")
    assert text_path is not None and text_path.text == "淄博市张店区马尚街道便民服务中心"
    assert text_path.get("href") == f"#{arc.get('id')}"
    star = root.find(f".//{SVG}polygon")
    assert star is not None and len(star.get("points", "").split()) == 10
    texts = ["".join(t.itertext()) for t in root.findall(f"./{SVG}g/{SVG}text")]
    assert texts[1:] == ["便民服务专用章", "370303-BM-0002"]
    assert RED in svg


def test_approval_seal_says_administrative_approval() -> None:
    svg = render_stamp_svg("车站街道便民服务中心", "370303-SP-0001", "delegated_approval")
    assert "行政审批专用章" in "".join(ET.fromstring(svg).itertext())


def test_text_is_xml_escaped() -> None:
    svg = render_stamp_svg('<script>&"x"</script>', "370303-SP-0001", "delegated_approval")
    root = ET.fromstring(svg)
    assert root.find(f".//{SVG}script") is None
    text_path = root.find(f".//{SVG}textPath")
    assert text_path is not None and text_path.text == '<script>&"x"</script>'


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError):
        render_stamp_svg("x", "370303-SP-0001", "mayor")
