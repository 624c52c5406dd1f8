"""Errors answer in IDM's shape ``{"code","reason","message"}`` with IDM's status codes."""

from __future__ import annotations

from core.api import create_app
from core.api.errors import to_api_error
from core.errors import ConfigError, UsageError

ADMIN = {"X-OpenIDM-Username": "openidm-admin", "X-OpenIDM-Password": "openidm-admin"}


async def test_unknown_path_is_404_and_wrong_method_is_405(sample_project, asgi_client):
    app = create_app(sample_project)
    async with asgi_client(app, headers=ADMIN) as client:
        missing = await client.get("/openidm/managed/role")
        wrong = await client.delete("/openidm/recon")
    assert missing.status_code == 404
    assert missing.json() == {"code": 404, "reason": "Not Found",
                              "message": "Resource 'managed/role' not found"}
    assert wrong.status_code == 405
    body = wrong.json()
    assert body["code"] == 405 and body["reason"] == "Method Not Allowed" and "DELETE" in body["message"]


def test_repository_and_sync_errors_map_to_idm_status_codes():
    from core.repo.errors import (
        Conflict,
        FieldError,
        FilterSyntaxError,
        NotFound,
        PreconditionFailed,
        ValidationError,
    )

    assert to_api_error(NotFound("managed/user/x not found")).status == 404
    assert to_api_error(PreconditionFailed("stale")).status == 412
    assert to_api_error(Conflict("exists")).status == 409
    assert to_api_error(FilterSyntaxError("expected a value", text="a eq", position=4)).status == 400
    invalid = to_api_error(ValidationError([FieldError("mail", "is required")]))
    assert invalid.status == 400
    assert invalid.detail == {"result": False, "failedPolicyRequirements": [
        {"property": "mail", "policyRequirements": [{"policyRequirement": "is required"}]}]}
    assert to_api_error(UsageError("no mapping named x")).status == 400


def test_unexpected_exception_is_a_500_that_leaks_nothing():
    err = to_api_error(RuntimeError("/home/me/db/sfsync.sqlite3: SELECT secret FROM users"))
    assert err.status == 500
    assert err.message == "Internal Server Error"
    config = to_api_error(ConfigError("not valid JSON", path="conf/sync.json", line=3, column=1))
    assert config.status == 500 and config.message == "conf/sync.json:3:1: not valid JSON"


def test_statuses_come_from_the_exception_classes_not_their_names():
    """core/errors.py draws the hierarchy; the API maps by isinstance: a Salesforce record missing is Salesforce
    failing (502), not the client's missing managed user (404), whatever the classes are called."""
    from core.api.errors import to_api_error
    from core.errors import ConfigError, SfsyncError, UsageError
    from core.repo.errors import Conflict, NotFound, PreconditionFailed
    from core.salesforce.errors import RecordNotFound

    class NotFoundElsewhere(SfsyncError):  # a name alone means nothing
        pass

    cases = {NotFound("gone"): 404, PreconditionFailed("stale"): 412, Conflict("taken"): 409,
             UsageError("bad"): 400, ConfigError("broken", path="conf/sync.json"): 500,
             RecordNotFound("no such record", status=404): 502, NotFoundElsewhere("x"): 500}
    for exc, status in cases.items():
        assert to_api_error(exc).status == status, type(exc).__name__
