"""The org's OAuth server: Salesforce's token JSON, PKCE, single-use codes, refresh, revoke, expiry."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from .helpers import REDIRECT, V, auto_code, exchange, pkce, query_of


async def test_code_flow_with_pkce_returns_salesforce_token_json(org_factory):
    h = org_factory(auto_approve=True)
    verifier, challenge = pkce()
    r = await exchange(h, await auto_code(h, challenge), verifier)
    assert r.status_code == 200
    body = r.json()
    assert list(body) == ["access_token", "refresh_token", "signature", "scope", "instance_url", "id",
                          "token_type", "issued_at"]
    assert body["access_token"].startswith(h.org.org_id[:15] + "!")
    assert body["refresh_token"].startswith("5Aep")
    assert body["token_type"] == "Bearer" and body["instance_url"] == "http://org.test"
    assert body["id"] == f"http://org.test/id/{h.org.org_id}/{h.org.admin_id}"
    assert body["issued_at"].isdigit() and len(body["issued_at"]) == 13
    expected = base64.b64encode(hmac.new(h.client_secret.encode(), (body["id"] + body["issued_at"]).encode(),
                                         hashlib.sha256).digest()).decode()
    assert body["signature"] == expected
    assert r.headers["cache-control"] == "no-store"


async def test_pkce_mismatch_is_invalid_grant(org_factory):
    h = org_factory(auto_approve=True)
    _, challenge = pkce()
    other_verifier, _ = pkce()
    r = await exchange(h, await auto_code(h, challenge), other_verifier)
    assert r.status_code == 400
    assert r.json() == {"error": "invalid_grant", "error_description": "invalid code verifier"}


async def test_missing_verifier_when_challenge_was_sent_is_invalid_grant(org_factory):
    h = org_factory(auto_approve=True)
    _, challenge = pkce()
    r = await exchange(h, await auto_code(h, challenge), None)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


async def test_code_is_single_use(org_factory):
    h = org_factory(auto_approve=True)
    verifier, challenge = pkce()
    code = await auto_code(h, challenge)
    assert (await exchange(h, code, verifier)).status_code == 200
    again = await exchange(h, code, verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


async def test_expired_code_is_refused(org_factory):
    h = org_factory(auto_approve=True)
    verifier, challenge = pkce()
    code = await auto_code(h, challenge)
    h.org.auth.codes[code].expires = time.time() - 1
    r = await exchange(h, code, verifier)
    assert r.json() == {"error": "invalid_grant", "error_description": "expired authorization code"}


async def test_token_redirect_uri_must_match_the_authorize_one(org_factory):
    h = org_factory(auto_approve=True)
    verifier, challenge = pkce()
    code = await auto_code(h, challenge)
    r = await exchange(h, code, verifier, redirect="http://localhost:1718/OauthRedirect")
    assert r.status_code == 400 and r.json()["error"] == "redirect_uri_mismatch"


async def test_authorize_refuses_an_unregistered_redirect_without_redirecting(org_factory):
    h = org_factory(auto_approve=True)
    r = await h.client.get("/services/oauth2/authorize", params={
        "response_type": "code", "client_id": h.client_id, "redirect_uri": "https://evil.example/cb"})
    assert r.status_code == 400
    assert "redirect_uri_mismatch" in r.text and "location" not in r.headers


async def test_authorize_accepts_any_loopback_port_for_oauth_redirect(org_factory):
    h = org_factory(auto_approve=True)
    verifier, challenge = pkce()
    redirect = "http://127.0.0.1:54321/OauthRedirect"
    code = await auto_code(h, challenge, redirect=redirect)
    assert (await exchange(h, code, verifier, redirect=redirect)).status_code == 200


async def test_unknown_client_id_and_wrong_secret(org_factory):
    h = org_factory()
    r = await h.client.post("/services/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": "3MVG9nope", "client_secret": "x"})
    assert r.json() == {"error": "invalid_client_id", "error_description": "client identifier invalid"}
    r = await h.client.post("/services/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": h.client_id, "client_secret": "wrong"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_client"


async def test_client_credentials_with_basic_auth(org_factory):
    h = org_factory()
    basic = base64.b64encode(f"{h.client_id}:{h.client_secret}".encode()).decode()
    r = await h.client.post("/services/oauth2/token", data={"grant_type": "client_credentials"},
                            headers={"Authorization": f"Basic {basic}"})
    assert r.status_code == 200 and "refresh_token" not in r.json()


async def test_refresh_grant_returns_a_new_access_token_without_refresh_token(org_factory):
    h = org_factory(auto_approve=True)
    verifier, challenge = pkce()
    first = (await exchange(h, await auto_code(h, challenge), verifier)).json()
    r = await h.client.post("/services/oauth2/token", data={
        "grant_type": "refresh_token", "refresh_token": first["refresh_token"], "client_id": h.client_id,
        "client_secret": h.client_secret})
    assert r.status_code == 200
    body = r.json()
    assert "refresh_token" not in body and body["access_token"] != first["access_token"]
    ok = await h.client.get(f"{V}/limits", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert ok.status_code == 200


async def test_expired_access_token_is_invalid_session(org_factory):
    h = org_factory(auto_approve=True, token_ttl=60)
    headers = await h.headers()
    assert (await h.client.get(f"{V}/limits", headers=headers)).status_code == 200
    h.org.auth.expire_all_access_tokens()
    r = await h.client.get(f"{V}/limits", headers=headers)
    assert r.status_code == 401
    assert r.json() == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    assert r.headers["www-authenticate"] == "Token"


async def test_revoking_a_refresh_token_revokes_its_access_tokens(org_factory):
    h = org_factory(auto_approve=True)
    verifier, challenge = pkce()
    tokens = (await exchange(h, await auto_code(h, challenge), verifier)).json()
    r = await h.client.post("/services/oauth2/revoke", data={"token": tokens["refresh_token"]})
    assert r.status_code == 200
    api = await h.client.get(f"{V}/limits", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert api.status_code == 401
    again = await h.client.post("/services/oauth2/token", data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": h.client_id})
    assert again.json() == {"error": "invalid_grant", "error_description": "expired access/refresh token"}
    bad = await h.client.post("/services/oauth2/revoke", data={"token": "nope"})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_token"


async def test_consent_page_login_then_deny_redirects_access_denied(org_factory):
    h = org_factory()
    params = {"response_type": "code", "client_id": h.client_id, "redirect_uri": REDIRECT, "state": "abc"}
    page = await h.client.get("/services/oauth2/authorize", params=params)
    assert page.status_code == 200 and 'name="password"' in page.text
    wrong = await h.client.post("/services/oauth2/authorize", data={**params, "action": "login",
                                                                     "username": h.username, "password": "nope"})
    assert "check your username and password" in wrong.text
    consent = await h.client.post("/services/oauth2/authorize", data={**params, "action": "login",
                                                                       "username": h.username, "password": h.password})
    assert "Allow Access?" in consent.text
    ticket = consent.text.split('name="ticket" value="')[1].split('"')[0]
    denied = await h.client.post("/services/oauth2/authorize", data={**params, "action": "deny", "ticket": ticket})
    assert denied.status_code == 302
    assert query_of(denied.headers["location"]) == {"error": "access_denied", "state": "abc",
                                                    "error_description": "end-user denied authorization"}


async def test_consent_page_allow_issues_a_code(org_factory):
    h = org_factory()
    verifier, challenge = pkce()
    params = {"response_type": "code", "client_id": h.client_id, "redirect_uri": REDIRECT, "state": "s1",
              "code_challenge": challenge}
    consent = await h.client.post("/services/oauth2/authorize", data={**params, "action": "login",
                                                                       "username": h.username.upper(),
                                                                       "password": h.password})
    ticket = consent.text.split('name="ticket" value="')[1].split('"')[0]
    allowed = await h.client.post("/services/oauth2/authorize", data={**params, "action": "allow", "ticket": ticket})
    code = query_of(allowed.headers["location"])["code"]
    assert (await exchange(h, code, verifier)).status_code == 200
    # the ticket is single-use too
    replay = await h.client.post("/services/oauth2/authorize", data={**params, "action": "allow", "ticket": ticket})
    assert replay.status_code == 200 and "expired" in replay.text


async def test_userinfo_and_identity_url(org_factory):
    h = org_factory(auto_approve=True)
    verifier, challenge = pkce()
    tokens = (await exchange(h, await auto_code(h, challenge), verifier)).json()
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    info = (await h.client.get("/services/oauth2/userinfo", headers=auth)).json()
    assert info["preferred_username"] == h.username and info["organization_id"] == h.org.org_id
    ident = await h.client.get(tokens["id"].removeprefix("http://org.test"), headers=auth)
    assert ident.status_code == 200 and ident.json()["username"] == h.username
    assert (await h.client.get("/services/oauth2/userinfo")).status_code == 403
