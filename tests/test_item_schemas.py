r"""Each item's JSON Schema, its examples and the gateway's own checks agree.

Every schema is fetched as an integrator would and checked as JSON Schema
2020-12; every example it carries is accepted (201/202) by the gateway it
came from. Then, property-based: envelopes mutated from each item's example
are judged by the gateway's envelope parser and by the schema (with
jsonschema-rs, whose regular expressions are ECMA-262's, as a client's
would be). Setting aside what the gateway refuses for a reason beyond JSON
Schema (a check digit, a date relative to today, a rule comparing two
values -- the schema names them in its description), the two agree: the
schema refuses what the gateway refuses and accepts what it accepts. The
one difference allowed is the operator id, whose letters may be of any
script (Python's \w) where an ECMA-262 validator reads \w as ASCII.
"""

from __future__ import annotations

import base64
import copy
import functools
import math
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from gateway.agencies.installed import load_registry
from gateway.agencies.plugin_manager import plugin_manager
from gateway.catalogue.items import Item
from gateway.catalogue.materials import Material
from gateway.config import load_settings
from gateway.intake.envelope import parse_envelope
from gateway.intake.item_schema import envelope_schema, example_envelopes

SETTINGS = load_settings(environ={})
CATALOGUE = load_registry(plugin_manager(), SETTINGS, check_settings=False).catalogue
CAP = 10  # a tiny attachment cap, so generated attachments fall on both sides of it
BEYOND_SCHEMA = {  # problem codes for checks JSON Schema cannot state (the schema's description names them)
    "invalid_check_digit",
    "invalid_birth_date",
    "date_in_future",
    "date_in_past",
    "period_order",
    "period_too_long",
    "birth_date_mismatch",
    "is_applicant",
    "url",  # callback URLs are parsed by parts (docs/api.md, Callbacks)
}


# -- served by the gateway -------------------------------------------------------------------------


async def test_every_items_schema_is_2020_12_and_every_example_in_it_is_accepted(gw) -> None:
    for item in gw.gateway.registry.catalogue:
        guide = await (await gw.client.get(f"/v1/catalog/{item.code}")).json()
        response = await gw.client.get(guide["links"]["schema"])
        assert response.status == 200 and response.content_type == "application/schema+json"
        schema = await response.json()
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["examples"] and [e["envelope"] for e in guide["examples"]] == schema["examples"]
        validator = jsonschema_rs.validator_for(schema, validate_formats=True)
        for example in schema["examples"]:
            assert validator.is_valid(example), (item.code, list(validator.iter_errors(example))[:3])
            answer = await gw.post(example)
            assert answer.status in (201, 202), (item.code, await answer.text())
            assert (await answer.json())["status"] in ("completed", "pending")


async def test_the_guide_and_the_schema_state_the_attachment_cap_that_really_applies(gw) -> None:
    code = "property.mortgage-registration"  # its catalogue asks for 4 MiB; the gateway takes 2 MiB
    assert gw.gateway.registry.catalogue.get(code).material("mortgage_contract").constraints["max_bytes"] == 4 << 20
    guide = await (await gw.client.get(f"/v1/catalog/{code}")).json()
    (contract,) = [m for m in guide["materials"] if m["name"] == "mortgage_contract"]
    assert contract["constraints"]["max_bytes"] == 2 << 20 == gw.gateway.settings.max_attachment_bytes
    schema = await (await gw.client.get(f"/v1/catalog/{code}/schema")).json()
    content = schema["properties"]["materials"]["properties"]["mortgage_contract"]["properties"]["content_base64"]
    assert content["maxLength"] == ((2 << 20) + 2) // 3 * 4
    over = base64.b64encode(b"%PDF" + bytes((2 << 20) - 3)).decode()  # one byte over the cap
    envelope = {**schema["examples"][0]}
    envelope["materials"] = {**envelope["materials"], "mortgage_contract": {"media_type": "application/pdf"}}
    envelope["materials"]["mortgage_contract"]["content_base64"] = over
    assert not jsonschema_rs.validator_for(schema).is_valid(envelope)
    answer = await gw.post(envelope)
    problems = (await answer.json())["errors"]
    assert answer.status == 422 and [p["code"] for p in problems] == ["too_large"]


async def test_the_schema_carries_every_rule_in_words_and_those_about_presence_as_if_then(gw) -> None:
    code = "housing_fund.account-query"  # months may be given only with the details (only_when)
    schema = await (await gw.client.get(f"/v1/catalog/{code}/schema")).json()
    item = gw.gateway.registry.catalogue.get(code)
    assert [r["kind"] for r in schema["x-onewindow-rules"]] == [r.kind for r in item.rules]
    assert all(r.statement_en in schema["description"] for r in item.rules)
    validator = jsonschema_rs.validator_for(schema)
    example = schema["examples"][0]
    without = {**example, "materials": {**example["materials"], "include_details": False}}
    assert not validator.is_valid(without)
    answer = await gw.post(without)
    assert [p["code"] for p in (await answer.json())["errors"]] == ["not_applicable"]


async def test_a_period_rule_is_in_words_because_json_schema_cannot_compare_two_dates(gw) -> None:
    schema = await (await gw.client.get("/v1/catalog/tax.payment-record/schema")).json()
    (rule,) = schema["x-onewindow-rules"]
    assert rule["kind"] == "period_order" and "period_end must not be before period_start" in schema["description"]


# -- the schema and the gateway agree on generated envelopes ----------------------------------------


@functools.cache
def _validator(code: str) -> Any:
    return jsonschema_rs.validator_for(
        envelope_schema(CATALOGUE.get(code), max_attachment_bytes=CAP), validate_formats=True
    )


def _json_values() -> st.SearchStrategy[Any]:
    leaves = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.floats(allow_nan=False, allow_infinity=False)
    leaves |= st.text(max_size=8)
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=6,
    )


_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)) | st.sampled_from(" \t\n\r\x00\x01\x85\u3000"),
    max_size=12,
)
_ODD_DATES = st.sampled_from(["2025-W01-1", "2025-02-30", "20250101", "2025-1-01", "2025-01-01\n", "２０２５-01-01"])
_ODD_IDS = st.sampled_from(
    ["370303199001011239\n", "３７０３０３199001011239", "37²303199001011239", "91370303ma3c4xy85n", "13805330123\n"]
)


def _values(material: Material, sample: Any) -> st.SearchStrategy[Any]:
    """Values for ``material``: valid ones, near misses and junk."""
    c, kind = material.constraints, material.type
    near: st.SearchStrategy[Any]
    if kind == "text":
        near = _TEXT | st.text(min_size=c.get("max_length", 20), max_size=c.get("max_length", 20) + 2)
        if "pattern" in c:
            near |= st.from_regex(c["pattern"], fullmatch=True)
    elif kind in ("integer", "number"):
        low, high = math.floor(c.get("minimum", -100)), math.ceil(c.get("maximum", 100))
        near = st.integers(low - 2, high + 2) | st.floats(low - 2, high + 2) | st.integers(low, high).map(float)
    elif kind == "date":
        near = st.dates().map(lambda d: d.isoformat()) | _ODD_DATES
    elif kind == "enum":
        near = st.sampled_from(c["choices"]) | _TEXT
    elif kind in ("resident_id", "credit_code", "phone"):
        near = _ODD_IDS | st.just(sample.lower() if isinstance(sample, str) else sample)
    elif kind == "attachment":
        media = st.sampled_from([*c.get("media_types", []), "text/html"])
        near = st.fixed_dictionaries(
            {
                "media_type": media,
                "content_base64": st.binary(max_size=CAP + 2).map(lambda b: base64.b64encode(b).decode()),
            },
            optional={"filename": _TEXT | st.none(), "size": st.integers()},
        )
    elif kind == "list" and material.items is not None:
        entry = sample[0] if isinstance(sample, list) and sample else None
        near = st.lists(_values(material.items, entry), max_size=c["max_items"] + 1)
    elif kind == "object":
        near = _objects(material, sample if isinstance(sample, dict) else {})
    else:
        near = st.booleans()
    return st.one_of(st.just(sample), near, near, _json_values())  # near misses twice as often as junk


def _objects(material: Material, sample: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    fields = {f.name: _values(f, sample.get(f.name)) for f in material.fields}
    return st.fixed_dictionaries({}, optional={**fields, "unknown": _json_values()})


_ENVELOPE_FIELDS = {
    "operator": _TEXT | st.just("window-01") | st.text(min_size=64, max_size=66),
    "office": st.sampled_from(["370303105000", "37030310500", "370303105000\n", "３70303105000"]) | _json_values(),
    "channel": st.sampled_from(["window", "kiosk", "carrier_pigeon"]),
    "callback_url": st.none() | st.integers() | st.text(min_size=2001, max_size=2002),
    "pledge": st.none() | _json_values(),
    "extra": _json_values(),
}
_APPLICANT_FIELDS = {
    "name": _TEXT | st.text(min_size=100, max_size=102),
    "phone": st.none() | st.just("13805330123") | _ODD_IDS,
    "kind": st.sampled_from(["person", "organisation", "robot"]),
    "id_type": st.sampled_from(["resident_id", "credit_code", "passport"]),
    "id_number": _ODD_IDS | st.just("370303199001011239") | st.just("91370303MA3C4XY85N"),
    "nickname": _TEXT,
}


@st.composite
def _mutated(draw: st.DrawFn, item: Item) -> dict[str, Any]:
    envelope = copy.deepcopy(example_envelopes(item, SETTINGS.offices.values())[0])
    materials = envelope["materials"]
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(["material", "material", "drop", "unknown", "envelope", "applicant"]))
        if where == "material":
            material = draw(st.sampled_from(item.materials))
            materials[material.name] = draw(_values(material, material.sample))
        elif where == "drop" and materials:
            materials.pop(draw(st.sampled_from(sorted(materials))))
        elif where == "unknown":
            materials[draw(st.sampled_from(["remarks", "period", "x"]))] = draw(_json_values())
        elif where == "envelope":
            name = draw(st.sampled_from(sorted(_ENVELOPE_FIELDS)))
            envelope[name] = draw(_ENVELOPE_FIELDS[name])
        else:
            name = draw(st.sampled_from(sorted(_APPLICANT_FIELDS)))
            envelope["applicant"][name] = draw(_APPLICANT_FIELDS[name])
    return envelope


@pytest.mark.parametrize("code", [item.code for item in CATALOGUE])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(data=st.data())
def test_the_schema_refuses_what_the_gateway_refuses_and_accepts_only_what_it_accepts(code: str, data) -> None:
    item = CATALOGUE.get(code)
    envelope = data.draw(_mutated(item))
    _, problems = parse_envelope(envelope, item, max_attachment_bytes=CAP)
    assume(not any(p.code in BEYOND_SCHEMA for p in problems))
    schema_accepts = _validator(code).is_valid(envelope)
    refusals = [f"{p.path}:{p.code}" for p in problems]
    if envelope.get("channel") not in item.channels:
        refusals.append("channel:forbidden")  # the router's authorisation: 403 (422 for a channel that does not exist)
    if refusals:
        assert not schema_accepts, f"the gateway refuses ({refusals}), the schema not"
    elif not schema_accepts:  # the one place the schema is stricter: ECMA-262 reads \w as ASCII, Python as Unicode
        operator = envelope.get("operator")
        assert isinstance(operator, str) and not operator.isascii(), "the schema refuses what the gateway accepts"
