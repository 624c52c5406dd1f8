"""A schema-driven fuzz: requests generated from the served OpenAPI document (every documented operation,
parameter, header and body, valid and not) never get a 500, and every error is IDM's error object.

Hypothesis strategies are built here from the document rather than with schemathesis, to keep the test
extra small; the document is the one the app serves, so an undocumented parameter is never exercised and
a documented one always is.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.api import create_app
from core.api.backend import ApiBackend
from core.api.openapi import build_openapi

ADMIN = {"X-OpenIDM-Username": "openidm-admin", "X-OpenIDM-Password": "openidm-admin"}
METHODS = ("get", "put", "post", "patch", "delete")
FILTERS = ['true', 'false', 'userName eq "u1"', '/mail sw "u"', 'userName pr', '!(sn eq "F")',
           'givenName co "x" and (sn gt 1 or sn le "z")', 'reconId eq "x"', 'situation eq "ABSENT"',
           '(', 'userName eq', 'userName eq "unterminated', '/a/b/c eq 1.5e3', 'x lt true', '"', '\\']
FIELDS = ["_id", "userName,mail", "*", "a/b", "/mail", "", ",,,"]
HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=20)
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                    max_leaves=8)
DOC = build_openapi()


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        section, name = node["$ref"].removeprefix("#/components/").split("/")
        node = DOC["components"][section][name]
    return node


def value_for(param: dict[str, Any]) -> st.SearchStrategy[str]:
    schema, name = param["schema"], param["name"]
    if "enum" in schema:
        return st.sampled_from(schema["enum"]) | HEADER_TEXT
    if schema.get("type") == "integer":
        return st.integers(-5, 20_000).map(str) | HEADER_TEXT
    if schema.get("type") == "boolean":
        return st.sampled_from(["true", "false", "TRUE", "0", "", "maybe"])
    if name == "_queryFilter":
        return st.sampled_from(FILTERS) | st.text(max_size=30)
    if name in ("_fields", "_sortKeys"):
        return st.sampled_from(FIELDS + ["-userName", "+mail,-_id"]) | st.text(max_size=15)
    if name == "mapping":
        return st.sampled_from(["userAccount", "nope", ""]) | st.text(max_size=10)
    return st.text(max_size=30)


def body_for(op: dict[str, Any]) -> st.SearchStrategy[bytes | None]:
    if "requestBody" not in op:
        return st.none()
    schema = resolve(op["requestBody"]["content"]["application/json"]["schema"])
    if schema.get("type") == "array":
        item = resolve(schema["items"])
        patch_op = st.fixed_dictionaries(
            {"operation": st.sampled_from([n for alt in item["oneOf"] for n in alt["properties"]["operation"]["enum"]])
             | st.text(max_size=8),
             "field": st.sampled_from(["/mail", "/sn", "/x/y", "/roles/-", "", "/"]) | st.text(max_size=8)},
            optional={"value": JSON, "from": st.sampled_from(["/mail", "/nope"])})
        shaped: st.SearchStrategy[Any] = st.lists(patch_op | JSON, max_size=4)
    else:
        props = {k: (st.text(max_size=12) if v.get("type") == "string" else JSON)
                 for k, v in schema["properties"].items()}
        shaped = st.fixed_dictionaries({}, optional=props) | st.fixed_dictionaries(
            {k: st.text(min_size=1, max_size=12) for k in schema.get("required", [])}).map(
            lambda d: {**d, "mail": d["mail"] + "@fuzz.example"} if "mail" in d else d)
    encoded = (shaped | JSON).map(lambda v: json.dumps(v).encode())
    return encoded | st.binary(max_size=20) | st.just(b"")


def documented_answer(path: str, method: str, status: int) -> dict[str, Any]:
    """The response the document promises for this status (a test failure when it promises none)."""
    responses = DOC["paths"][path][method]["responses"]
    assert str(status) in responses, f"{method.upper()} {path} answered {status}, which is not documented"
    response = resolve(responses[str(status)])
    content = response.get("content", {}).get("application/json", {})
    return resolve(content["schema"]) if "schema" in content else {}


@st.composite
def requests(draw, ids: list[str]) -> tuple[str, str, str, dict[str, str], dict[str, str], bytes | None]:
    path, method = draw(st.sampled_from([(p, m) for p, item in DOC["paths"].items() for m in item
                                          if m in METHODS]))
    item = DOC["paths"][path]
    op = item[method]
    params, headers, url = {}, dict(ADMIN), path
    for param in item.get("parameters", []) + op.get("parameters", []):
        if param["in"] == "path":
            # "." and ".." are dot segments: clients resolve them away (RFC 3986), so they never reach a route
            value = draw(st.sampled_from(ids) | st.text(min_size=1, max_size=12).filter(lambda v: v not in (".", "..")))
            url = url.replace("{" + param["name"] + "}", quote(value, safe=""))
            continue
        if not param.get("required") and draw(st.booleans()):
            continue
        if param["in"] == "query" and param.get("explode") and "oneOf" in param["schema"]:
            # an exploded object (_queryFilter or _queryId): its properties are the query parameters
            for name, schema in draw(st.sampled_from(param["schema"]["oneOf"]))["properties"].items():
                params[name] = draw(value_for({"name": name, "schema": schema}))
            continue
        value = draw(value_for(param) if param["in"] == "query" else
                     (st.sampled_from(["*", '"0"']) | HEADER_TEXT))
        (params if param["in"] == "query" else headers)[param["name"]] = value
    return path, method, url, params, headers, draw(body_for(op))


@pytest.fixture
def fuzz_target(managed_project, asgi_client):
    backend = ApiBackend(managed_project)
    created = backend.sync.repo.create_many([{"userName": f"f{i}", "givenName": "F", "sn": "Fuzz",
                                              "mail": f"f{i}@fuzz.example"} for i in range(5)])
    loop = asyncio.new_event_loop()
    client = asgi_client(create_app(managed_project, services=backend))
    run_id = loop.run_until_complete(client.post(
        "/openidm/recon?_action=recon&mapping=userAccount&waitForCompletion=true", headers=ADMIN)).json()["_id"]
    ids = [u["_id"] for u in created] + [run_id, "nope"]
    yield loop, client, ids
    loop.run_until_complete(client.aclose())
    loop.run_until_complete(backend.aclose())
    backend.sync.close()
    loop.close()


def test_no_generated_request_gets_a_500_and_every_error_is_idm_shaped(fuzz_target):
    loop, client, ids = fuzz_target

    @settings(max_examples=int(__import__("os").environ.get("FUZZ_EXAMPLES", "400")), deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(requests(ids))
    def check(request) -> None:
        path, method, url, params, headers, body = request
        if body is not None:
            headers["Content-Type"] = "application/json"
        response = loop.run_until_complete(client.request(method.upper(), url, params=params, headers=headers,
                                                          content=body))
        assert response.status_code < 500, (request, response.text)
        data = response.json()
        if response.status_code >= 400:
            assert data["code"] == response.status_code and data["reason"] and data["message"], data
        schema = documented_answer(path, method, response.status_code)
        missing = set(schema.get("required", ())) - set(data)
        assert not missing, f"{method.upper()} {path} {response.status_code}: {missing} missing from {data}"

    check()
