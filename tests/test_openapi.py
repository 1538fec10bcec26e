"""The OpenAPI document matches the application's routes and is valid OpenAPI 3.1."""

from __future__ import annotations

import re

from openapi_spec_validator import validate


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
