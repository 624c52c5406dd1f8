"""The OpenAPI document is served and tells the truth: every route and method is documented, nothing more."""

from __future__ import annotations

from starlette.routing import Route

from core.api import create_app

ADMIN = {"X-OpenIDM-Username": "openidm-admin", "X-OpenIDM-Password": "openidm-admin"}
HTTP_METHODS = {"get", "put", "post", "patch", "delete"}


def app_operations(app) -> set[tuple[str, str]]:
    return {(route.path, method.lower()) for route in app.routes if isinstance(route, Route)
            for method in route.methods or () if method != "HEAD"}


def documented_operations(doc) -> set[tuple[str, str]]:
    return {(path, method) for path, item in doc["paths"].items() for method in item if method in HTTP_METHODS}


async def test_every_route_is_documented_and_every_documented_route_exists(sample_project, asgi_client):
    app = create_app(sample_project)
    async with asgi_client(app, headers=ADMIN) as client:
        doc = (await client.get("/openapi.json")).json()
    assert app_operations(app) == documented_operations(doc)
    for (path, method) in ((p, "post") for p in ("/openidm/recon", "/openidm/system")):
        assert (path, method) in documented_operations(doc)


async def test_idm_api_descriptor_serves_the_same_document(sample_project, asgi_client):
    app = create_app(sample_project)
    async with asgi_client(app, headers=ADMIN) as client:
        via_idm = await client.get("/openidm/?_api")
        plain = await client.get("/openapi.json")
        without_flag = await client.get("/openidm/")
    assert via_idm.json() == plain.json()
    assert without_flag.status_code == 400 and without_flag.json()["code"] == 400


def test_every_operation_documents_its_errors_and_every_reference_resolves():
    from core.api.openapi import build_openapi

    doc = build_openapi()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in HTTP_METHODS:
                continue
            assert "401" in op["responses"] and "500" in op["responses"], (path, method)
            assert op["operationId"]

    def refs(node):
        if isinstance(node, dict):
            if "$ref" in node:
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    for ref in refs(doc):
        section, name = ref.removeprefix("#/components/").split("/")
        assert name in doc["components"][section], ref
