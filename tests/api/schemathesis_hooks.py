"""Schemathesis hooks for ``test_schemathesis.py`` (loaded by ``st run`` through ``SCHEMATHESIS_HOOKS``).

The OpenAPI document gives ``_queryFilter`` the custom format ``crest-query-filter``: CREST's filter grammar
(nested parentheses, ``and``/``or``/``!``) is not a regular language, so no ``pattern`` can say which strings
the server accepts. The format is honest (OpenAPI allows formats of one's own) and this strategy writes valid
filters from that grammar, so schema-valid queries are really valid; invalid strings are still sent by the
negative phases and must be refused.
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis
from hypothesis import strategies as st

FIELDS = ["userName", "givenName", "sn", "mail", "accountStatus", "description", "/userName", "/address/city",
          "reconId", "situation", "mapping", "_id"]
VALUES = st.one_of(st.text(max_size=8).map(json.dumps), st.integers(-5, 5).map(str),
                   st.sampled_from(["true", "false", "1.5"]))
COMPARISON = st.builds(lambda f, op, v: f"{f} {op} {v}", st.sampled_from(FIELDS),
                       st.sampled_from(["eq", "co", "sw", "lt", "le", "gt", "ge"]), VALUES)
PRIMARY = st.one_of(st.sampled_from(["true", "false"]), COMPARISON,
                    st.sampled_from(FIELDS).map(lambda f: f"{f} pr"))
FILTERS = st.recursive(PRIMARY, lambda inner: st.one_of(
    st.builds(lambda a, b: f"{a} and {b}", inner, inner),
    st.builds(lambda a, b: f"{a} or {b}", inner, inner),
    inner.map(lambda a: f"!({a})"),
    inner.map(lambda a: f"({a})")), max_leaves=4)

schemathesis.openapi.format("crest-query-filter", FILTERS)


def _is_server_cookie(value: Any, sort_keys: Any) -> bool:
    """A ``pagedResultsCookie`` as the server writes them (base64url JSON with the last row's sort values and
    the ``_sortKeys`` they are values of), for a query with those very ``_sortKeys``: a cookie names a place in
    one ordering (the document says so: "with the same _sortKeys"). Schemathesis reuses values it saw in
    answers, so a real cookie also reaches queries sorted otherwise."""
    import base64

    try:
        data = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (ValueError, TypeError):
        return False
    sorted_by = ",".join(k for k in str(sort_keys or "").split(",") if k)  # as core.api.crest reads it
    return isinstance(data, dict) and {"v", "seq", "s"} <= set(data) and data["s"] == sorted_by


@schemathesis.hook
def filter_query(ctx: Any, query: dict[str, Any] | None) -> bool:
    """``_pagedResultsCookie`` is opaque: only a cookie a previous page returned is valid, which no schema can
    describe; the stateful phase follows the ``nextPage`` link with real ones. Generated requests keep the
    parameter only when it is absent, empty or such a cookie, so the checks are never asked to accept a made-up
    cookie (nor to refuse one: a made-up cookie is not schema-violating either)."""
    if not query or not query.get("_pagedResultsCookie"):
        # an empty cookie is CREST's "first page", the same as none, which the server takes with an offset;
        # the document's branches name the parameter's presence, so that pair is neither side's to judge
        return not (query and "_pagedResultsCookie" in query and query.get("_pagedResultsOffset"))
    # the two are exclusive (the document says so in words: a 400 otherwise), but OpenAPI cannot say it
    return _is_server_cookie(query["_pagedResultsCookie"], query.get("_sortKeys")) \
        and not query.get("_pagedResultsOffset")


def _body_fits(action: str, body: Any) -> bool:
    """Whether ``sync?_action=<action>`` takes ``body`` (the route's rules, core/api/sync_routes.py)."""
    if action not in ("notifyCreate", "notifyUpdate", "notifyDelete"):
        return body is None or body == {}  # (an explicit JSON null is a body, and not an object)
    body = body or {}
    if not isinstance(body, dict):
        return False
    new, old = body.get("newValue"), body.get("oldValue")
    if action == "notifyDelete":
        return new is None
    return isinstance(new, dict) and (action != "notifyCreate" or old is None)


@schemathesis.hook
def filter_case(ctx: Any, case: Any) -> bool:
    """``POST sync``'s body depends on its ``_action``: notifyCreate takes ``{newValue}``, notifyUpdate
    ``{oldValue?, newValue}``, notifyDelete ``{oldValue}``, the other actions none; one body schema serves all
    the actions, so OpenAPI cannot say which body goes with which action (the document says so in words, and a
    mismatch is a 400 naming the field). Generated requests keep only fitting pairs, so the checks are never
    asked to accept a mismatch (nor to refuse one: it is not schema-violating either)."""
    if case.operation.path != "/openidm/sync" or case.method.upper() != "POST":
        return True
    action = (case.query or {}).get("_action")
    if not isinstance(action, str):
        return True
    body = case.body if isinstance(case.body, dict | list | str | int | float | bool) else None
    return _body_fits(action, body)
