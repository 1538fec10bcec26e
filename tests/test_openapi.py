"""The OpenAPI document matches the application's routes and is valid OpenAPI 3.1."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from gateway.intake.envelope import parse_envelope
from gateway.problems import problem_types

_REF = "#/components/schemas/"


def app_routes(app) -> set[tuple[str, str]]:
    routes = set()
    for route in app.router.routes():
        if route.method in ("HEAD", "OPTIONS"):
            continue
        info = route.resource.get_info()
        path = info.get("path") or info.get("formatter")
        path = re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", path)
        routes.add((route.method.lower(), path))
    return routes


def documented_routes(document: dict) -> set[tuple[str, str]]:
    return {(method, path) for path, operations in document["paths"].items() for method in operations}


async def test_every_route_is_documented_and_every_documented_route_exists(gw) -> None:
    document = await (await gw.client.get("/openapi.json")).json()
    assert app_routes(gw.client.server.app) == documented_routes(document)


async def test_the_document_is_valid_openapi_3_1(gw) -> None:
    document = await (await gw.client.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    validate(document)


async def test_every_operation_documents_its_error_answers_as_problems(gw) -> None:
    document = await (await gw.client.get("/openapi.json")).json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")) and path not in ("/readyz",):
                    assert "application/problem+json" in response.get("content", {}), (method, path, status)


async def test_problem_types_are_documented_at_their_uri(gw) -> None:
    body = await (await gw.client.get("/problems/validation-failed")).json()
    assert body["status"] == 422 and "一次性告知" in body["explanation"]
    assert (await gw.client.get("/problems/nope")).status == 404


# -- the documentation agrees with the code ------------------------------------------------

ROOT = Path(__file__).parents[1]


def _envelope_validator(document: dict) -> Draft202012Validator:
    return Draft202012Validator({"$ref": _REF + "Envelope", "components": document["components"]})


def _api_guide_example() -> dict:
    guide = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    section = guide[guide.index("## Submitting") :]
    return json.loads(section[section.index("```json") + len("```json") : section.index("```\n", 8)])


async def test_the_envelope_schema_and_the_parser_agree_that_pledge_and_callback_url_may_be_null(gw) -> None:
    document = await (await gw.client.get("/openapi.json")).json()
    envelope = {**_api_guide_example(), "item": "tax.credit-grade", "materials": {"year": 2025}}
    envelope.update(pledge=None, callback_url=None)
    assert not list(_envelope_validator(document).iter_errors(envelope))
    item = gw.gateway.registry.catalogue.get("tax.credit-grade")
    parsed, problems = parse_envelope(envelope, item, max_attachment_bytes=1 << 20)
    assert problems == [] and parsed.pledge is None and parsed.callback_url is None


async def test_the_api_guides_example_envelope_is_accepted_as_written(gw) -> None:
    document = await (await gw.client.get("/openapi.json")).json()
    envelope = _api_guide_example()
    assert not list(_envelope_validator(document).iter_errors(envelope))
    attachment = envelope["materials"]["invoice_cancellation_proof"]["content_base64"]
    assert base64.b64decode(attachment, validate=True).startswith(b"%PDF")
    answer = await gw.post(envelope)  # the sample window caller, whose callback_prefixes cover the callback_url
    assert answer.status in (201, 202), await answer.text()


def test_every_problem_type_is_listed_in_the_api_guide() -> None:
    guide = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    missing = [kind.slug for kind in problem_types() if f"| `{kind.slug}` | {kind.status} |" not in guide]
    assert not missing, f"docs/api.md's table of problem types lacks {missing}"


async def test_every_route_is_in_the_readme_route_table(gw) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = "\n".join(line for line in readme.splitlines() if line.startswith("| `"))
    listed = {
        (method.lower(), re.sub(r"\{[^}]*\}", "{}", path))
        for method, path in re.findall(r"`(GET|POST|PUT|DELETE|PATCH) (/[^`\s]*)`", table)
    }
    routes = {(method, re.sub(r"\{[^}]*\}", "{}", path)) for method, path in app_routes(gw.client.server.app)}
    assert not routes - listed, f"README.md's route table lacks {sorted(routes - listed)}"
