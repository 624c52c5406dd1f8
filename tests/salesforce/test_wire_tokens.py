"""Wire shapes of the token endpoint: the refresh grant, each error, 401-then-refresh, rotation."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from core.config import Project, ProvisionerConfig
from core.salesforce.connector import SalesforceConnector
from core.salesforce.errors import AuthError, SalesforceError, TransientError
from core.salesforce.retry import RetryPolicy

LOGIN_URL = "https://login.salesforce.com/services/oauth2/token"
INSTANCE = "https://acme.my.salesforce.com"

TOKEN_OK = {"access_token": "00Dxx!ACCESS1", "instance_url": INSTANCE, "token_type": "Bearer",
            "id": "https://login.salesforce.com/id/00Dxx0000001AAA/005xx0000001AAA", "issued_at": "1708058728442",
            "signature": "sig=", "scope": "api refresh_token id"}
VERSIONS = f"{INSTANCE}/services/data/v62.0"


def form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


@respx.mock
async def test_refresh_grant_posts_the_form_salesforce_expects(policy: RetryPolicy, config_factory: Callable[..., ProvisionerConfig]) -> None:
    token = respx.post(LOGIN_URL).mock(return_value=httpx.Response(200, json=TOKEN_OK))
    respx.get(VERSIONS).mock(return_value=httpx.Response(200, json={}))
    async with SalesforceConnector(config_factory(), retry=policy) as conn:
        await conn.session.get_json(conn.session.base_path)
    sent = form(token.calls.last.request)
    assert sent == {"grant_type": "refresh_token", "refresh_token": "5AepOLDREFRESHTOKEN0001",
                    "client_id": "3MVGclientid", "client_secret": "clientsecretvalue123"}
    assert token.calls.last.request.headers["content-type"].startswith("application/x-www-form-urlencoded")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"error": "invalid_grant", "error_description": "expired access/refresh token"},
         "log in again: expired access/refresh token"),
        ({"error": "invalid_grant", "error_description": "inactive user"}, "log in again: inactive user"),
        ({"error": "invalid_client_id", "error_description": "client identifier invalid"},
         "the OAuth client was refused (invalid_client_id: client identifier invalid)"),
        ({"error": "invalid_client", "error_description": "invalid client credentials"},
         "the OAuth client was refused (invalid_client: invalid client credentials)"),
        ({"error": "unsupported_grant_type", "error_description": "grant type not supported"},
         "the token endpoint refused the request (unsupported_grant_type: grant type not supported)"),
    ],
)
@respx.mock
async def test_each_token_error_is_an_auth_error_with_the_reason(policy: RetryPolicy, config_factory: Callable[..., ProvisionerConfig], body: dict[str, str],
                                                                  expected: str) -> None:
    respx.post(LOGIN_URL).mock(return_value=httpx.Response(400, json=body))
    async with SalesforceConnector(config_factory(), retry=policy) as conn:
        with pytest.raises(AuthError) as info:
            await conn.session.get_json(conn.session.base_path)
    assert str(info.value).startswith(expected)
    assert info.value.error_code == body["error"]
    assert "5AepOLD" not in str(info.value) and "clientsecret" not in str(info.value)


@respx.mock
async def test_token_endpoint_5xx_is_retried_then_succeeds(policy: RetryPolicy, config_factory: Callable[..., ProvisionerConfig], sleeps: Any) -> None:
    respx.post(LOGIN_URL).mock(side_effect=[httpx.Response(503, text="busy"), httpx.Response(200, json=TOKEN_OK)])
    respx.get(VERSIONS).mock(return_value=httpx.Response(200, json={}))
    async with SalesforceConnector(config_factory(), retry=policy) as conn:
        await conn.session.get_json(conn.session.base_path)
    assert len(sleeps.waits) == 1


@respx.mock
async def test_missing_refresh_token_asks_to_log_in(config_factory: Callable[..., ProvisionerConfig]) -> None:
    async with SalesforceConnector(config_factory(refreshToken=None)) as conn:
        with pytest.raises(AuthError, match="log in again: no refresh token"):
            await conn.describe()


@respx.mock
async def test_401_invalid_session_refreshes_once_and_replays(policy: RetryPolicy, config_factory: Callable[..., ProvisionerConfig]) -> None:
    second = dict(TOKEN_OK, access_token="00Dxx!ACCESS2")
    token = respx.post(LOGIN_URL).mock(side_effect=[httpx.Response(200, json=TOKEN_OK),
                                                    httpx.Response(200, json=second)])
    expired = httpx.Response(401, json=[{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}],
                             headers={"www-authenticate": "Token"})
    describe = respx.get(f"{VERSIONS}/sobjects/User/describe").mock(
        side_effect=[expired, httpx.Response(200, json={"name": "User", "fields": []})])
    async with SalesforceConnector(config_factory(), retry=policy) as conn:
        assert (await conn.describe())["name"] == "User"
        assert conn.session.stats["refreshes"] == 2
    assert token.call_count == 2
    auths = [c.request.headers["authorization"] for c in describe.calls]
    assert auths == ["Bearer 00Dxx!ACCESS1", "Bearer 00Dxx!ACCESS2"]


@respx.mock
async def test_second_401_after_refresh_is_raised_not_looped(policy: RetryPolicy, config_factory: Callable[..., ProvisionerConfig]) -> None:
    respx.post(LOGIN_URL).mock(return_value=httpx.Response(200, json=TOKEN_OK))
    expired = httpx.Response(401, json=[{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
    route = respx.get(f"{VERSIONS}/sobjects/User/describe").mock(return_value=expired)
    async with SalesforceConnector(config_factory(), retry=policy) as conn:
        with pytest.raises(SalesforceError) as info:
            await conn.describe()
    assert info.value.error_code == "INVALID_SESSION_ID" and route.call_count == 2


@respx.mock
async def test_rotated_refresh_token_is_saved_to_the_project(tmp_path: Path, policy: RetryPolicy, config_factory: Callable[..., ProvisionerConfig]) -> None:
    (tmp_path / "conf").mkdir()
    project = Project(tmp_path)
    project.provisioner_path.write_text(json.dumps(config_factory().to_data(), indent=4) + "\n")
    rotated = dict(TOKEN_OK, refresh_token="5AepNEWROTATEDTOKEN0002")
    respx.post(LOGIN_URL).mock(return_value=httpx.Response(200, json=rotated))
    respx.get(VERSIONS).mock(return_value=httpx.Response(200, json={}))
    async with SalesforceConnector.from_project(project, retry=policy) as conn:
        await conn.session.get_json(conn.session.base_path)
        assert conn.session.stats["rotations"] == 1
    saved = ProvisionerConfig.load(project)
    assert saved.properties.refresh_token == "5AepNEWROTATEDTOKEN0002"
    assert stat.S_IMODE(project.provisioner_path.stat().st_mode) == 0o600


@respx.mock
async def test_unreachable_token_endpoint_is_transient_and_bounded(policy: RetryPolicy, config_factory: Callable[..., ProvisionerConfig],
                                                                   sleeps: Any) -> None:
    respx.post(LOGIN_URL).mock(side_effect=httpx.ConnectError("connection refused"))
    async with SalesforceConnector(config_factory(), retry=policy) as conn:
        with pytest.raises(TransientError, match=r"cannot reach https://login.salesforce.com .*gave up after 4 tries"):
            await conn.describe()
    assert len(sleeps.waits) == 3


@respx.mock
async def test_code_exchange_sends_the_verifier_and_redirect_uri(
        config_factory: Callable[..., ProvisionerConfig]) -> None:
    from core.salesforce.oauth import LoginFlow

    token = respx.post(LOGIN_URL).mock(return_value=httpx.Response(
        200, json=dict(TOKEN_OK, refresh_token="5AepNEWREFRESH00000001")))
    async with LoginFlow(config_factory().properties, port=0) as flow:
        result = await flow.exchange("aPrxCODE==")
        sent = form(token.calls.last.request)
        assert sent == {"grant_type": "authorization_code", "code": "aPrxCODE==",
                        "code_verifier": flow.code_verifier, "redirect_uri": flow.redirect_uri,
                        "client_id": "3MVGclientid", "client_secret": "clientsecretvalue123"}
    assert result.refresh_token == "5AepNEWREFRESH00000001" and result.instance_url == INSTANCE
    assert result.org_id == "00Dxx0000001AAA"
    assert "5AepNEW" not in repr(result) and "ACCESS1" not in repr(result)


@respx.mock
async def test_refused_code_exchange_is_a_login_error_with_the_reason(
        config_factory: Callable[..., ProvisionerConfig]) -> None:
    from core.salesforce.errors import LoginError
    from core.salesforce.oauth import LoginFlow

    respx.post(LOGIN_URL).mock(return_value=httpx.Response(
        400, json={"error": "invalid_grant", "error_description": "invalid code verifier"}))
    async with LoginFlow(config_factory().properties, port=0) as flow:
        with pytest.raises(LoginError, match="invalid code verifier"):
            await flow.exchange("aPrxCODE==")


@respx.mock
async def test_exchange_without_refresh_token_says_which_scope_is_missing(
        config_factory: Callable[..., ProvisionerConfig]) -> None:
    from core.salesforce.errors import LoginError
    from core.salesforce.oauth import LoginFlow

    respx.post(LOGIN_URL).mock(return_value=httpx.Response(200, json=TOKEN_OK))
    async with LoginFlow(config_factory().properties, port=0) as flow:
        with pytest.raises(LoginError, match="refresh_token .offline_access. scope"):
            await flow.exchange("aPrxCODE==")
