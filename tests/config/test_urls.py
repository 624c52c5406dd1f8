"""Login URL kinds, as IDM's admin UI offers them, and the derived OAuth endpoints."""

from __future__ import annotations

import pytest

from core.config.urls import (
    PRODUCTION_TOKEN_URL,
    SANDBOX_TOKEN_URL,
    LoginUrlKind,
    check_url,
    kind_of,
    login_url_for,
    oauth_endpoint,
)


def test_kinds_map_to_the_salesforce_token_endpoints() -> None:
    assert login_url_for(LoginUrlKind.PRODUCTION) == "https://login.salesforce.com/services/oauth2/token"
    assert login_url_for(LoginUrlKind.SANDBOX) == "https://test.salesforce.com/services/oauth2/token"
    assert kind_of(PRODUCTION_TOKEN_URL) is LoginUrlKind.PRODUCTION
    assert kind_of(SANDBOX_TOKEN_URL) is LoginUrlKind.SANDBOX
    assert kind_of("https://acme.my.salesforce.com/services/oauth2/token") is LoginUrlKind.CUSTOM


def test_custom_host_gets_the_token_path() -> None:
    assert login_url_for(LoginUrlKind.CUSTOM, "acme.my.salesforce.com") == \
        "https://acme.my.salesforce.com/services/oauth2/token"
    assert login_url_for(LoginUrlKind.CUSTOM, "http://127.0.0.1:5000") == \
        "http://127.0.0.1:5000/services/oauth2/token"


@pytest.mark.parametrize("url", ["http://acme.example.com", "ftp://x", "https://", "nonsense", "https://h:99999"])
def test_unsafe_or_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        check_url(url)


@pytest.mark.parametrize("custom", ["http://acme.example.com", "ftp://x", "", "https://h:99999"])
def test_unsafe_or_malformed_custom_login_urls_are_refused(custom: str) -> None:
    with pytest.raises(ValueError):
        login_url_for(LoginUrlKind.CUSTOM, custom)


def test_authorize_endpoint_replaces_token() -> None:
    assert oauth_endpoint(SANDBOX_TOKEN_URL, "authorize") == "https://test.salesforce.com/services/oauth2/authorize"
    assert oauth_endpoint("https://h.example", "userinfo") == "https://h.example/services/oauth2/userinfo"
