"""The OAuth server: ``authorize`` (login + consent pages), ``token``, ``revoke``, ``userinfo``, the
identity URL and OpenID discovery, answering with Salesforce's JSON and error codes.

Faults (error rate, latency) never apply here: reliability tests break the data API, not the login.
"""

from __future__ import annotations

import base64
import hmac
import time
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from . import pages
from .auth import OAuthClient, signature
from .errors import OAuthError
from .org import U
from .state import EmulatorState, base_url, json_response

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_AUTHZ_PARAMS = ("response_type", "client_id", "redirect_uri", "state", "scope", "code_challenge",
                 "code_challenge_method", "prompt", "login_hint", "nonce", "display")
DEFAULT_SCOPE = "api refresh_token"


async def read_form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body as a dict (first value wins); no multipart library needed."""
    body = await request.body()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = body.decode("latin-1")
    out: dict[str, str] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        out.setdefault(key, value)
    return out


def _state(request: Request) -> EmulatorState:
    return request.app.state.emulator


def _oauth_error(exc: OAuthError) -> Response:
    return json_response({"error": exc.error, "error_description": exc.description}, exc.status, _NO_STORE)


def _redirect(uri: str, params: dict[str, str | None]) -> Response:
    sep = "&" if "?" in uri else "?"
    return RedirectResponse(uri + sep + urlencode({k: v for k, v in params.items() if v is not None}),
                            status_code=302)


# ------------------------------------------------------------------------------------------ authorize
async def authorize(request: Request) -> Response:
    st = _state(request)
    if request.method == "POST":
        form = await read_form(request)
        params = {k: str(form.get(k, "")) for k in _AUTHZ_PARAMS}
    else:
        form = None
        params = {k: request.query_params.get(k, "") for k in _AUTHZ_PARAMS}
    client = st.org.auth.clients.get(params["client_id"])
    if client is None:
        return HTMLResponse(pages.error_page("invalid_client_id", "client identifier invalid"), 400)
    redirect_uri = params["redirect_uri"]
    if not redirect_uri or not client.redirect_ok(redirect_uri):
        return HTMLResponse(pages.error_page("redirect_uri_mismatch", "redirect_uri must match configuration"), 400)
    state = params["state"] or None
    if params["response_type"] != "code":
        return _redirect(redirect_uri, {"error": "unsupported_response_type",
                                        "error_description": "response type not supported", "state": state})
    if params["code_challenge_method"] not in ("", "S256"):
        return _redirect(redirect_uri, {"error": "invalid_request",
                                        "error_description": "code_challenge_method must be S256", "state": state})
    scope = params["scope"] or DEFAULT_SCOPE
    org = st.org

    def approve(user_id: str) -> Response:
        code = org.auth.issue_code(client, user_id, redirect_uri, params["code_challenge"] or None, scope)
        return _redirect(redirect_uri, {"code": code, "state": state})

    if st.settings.auto_approve:
        return approve(org.admin_id)
    if form is None:
        return HTMLResponse(pages.login_page(org.name, params, params["login_hint"]))
    action = str(form.get("action", ""))
    if action == "login":
        username = str(form.get("username", "")).strip()
        password = str(form.get("password", ""))
        user_id = _check_password(st, username, password)
        if user_id is None:
            return HTMLResponse(pages.login_page(
                org.name, params, username,
                "Please check your username and password. If you still can't log in, contact your "
                "Salesforce administrator."), 200)
        return HTMLResponse(pages.consent_page(client.name, org.users[user_id][U["Username"]], scope.split(),
                                               params, st.new_ticket(user_id)))
    user_id = st.take_ticket(str(form.get("ticket", "")))
    if user_id is None:
        return HTMLResponse(pages.login_page(org.name, params, error="Your session has expired. Please log in again."))
    if action == "allow":
        return approve(user_id)
    return _redirect(redirect_uri, {"error": "access_denied", "error_description": "end-user denied authorization",
                                    "state": state})


def _check_password(st: EmulatorState, username: str, password: str) -> str | None:
    """The admin user is the one user with a password (the JSON line's ``username``/``password``)."""
    org = st.org
    if username.lower() != org.admin_username or not hmac.compare_digest(password.encode(),
                                                                         org.admin_password.encode()):
        return None
    return org.admin_id


# ---------------------------------------------------------------------------------------------- token
def _client_from(request: Request, form) -> tuple[OAuthClient, str | None]:
    client_id, secret = form.get("client_id"), form.get("client_secret")
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise OAuthError("invalid_client", "invalid client credentials") from None
    client = _state(request).org.auth.clients.get(str(client_id or ""))
    if client is None:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    if secret is not None and not client.secret_ok(str(secret)):
        raise OAuthError("invalid_client", "invalid client credentials")
    return client, (str(secret) if secret is not None else None)


async def token(request: Request) -> Response:
    st = _state(request)
    form = await read_form(request)
    try:
        grant_type = str(form.get("grant_type", ""))
        if grant_type not in ("authorization_code", "refresh_token", "client_credentials", "password"):
            raise OAuthError("unsupported_grant_type", "grant type not supported")
        client, secret = _client_from(request, form)
        auth, ttl = st.org.auth, st.settings.token_ttl
        if grant_type == "authorization_code":
            if secret is None and client.require_secret:
                raise OAuthError("invalid_client", "invalid client credentials")
            code = auth.redeem_code(str(form.get("code", "")), client, form.get("redirect_uri"),
                                    form.get("code_verifier"))
            _require_active(st, code.user_id)
            scopes = code.scope.split()
            access, refresh = auth.issue(client, code.user_id, code.scope, ttl,
                                         with_refresh="refresh_token" in scopes or "offline_access" in scopes)
            return _token_response(request, client, code.user_id, code.scope, access, refresh)
        if grant_type == "refresh_token":
            access, refresh, grant = auth.use_refresh(str(form.get("refresh_token", "")), client, ttl)
            _require_active(st, grant.user_id)
            return _token_response(request, client, grant.user_id, grant.scope, access, refresh)
        if secret is None:
            raise OAuthError("invalid_client", "invalid client credentials")
        if grant_type == "client_credentials":
            access, _ = auth.issue(client, st.org.admin_id, "api", ttl, with_refresh=False)
            return _token_response(request, client, st.org.admin_id, "api", access, None)
        user_id = _check_password(st, str(form.get("username", "")), str(form.get("password", "")))
        if user_id is None:
            raise OAuthError("invalid_grant", "authentication failure")
        access, _ = auth.issue(client, user_id, "api web", ttl, with_refresh=False)
        return _token_response(request, client, user_id, "api web", access, None)
    except OAuthError as exc:
        return _oauth_error(exc)


def _require_active(st: EmulatorState, user_id: str) -> None:
    row = st.org.users.get(user_id)
    if row is None or not row[U["IsActive"]]:
        raise OAuthError("invalid_grant", "inactive user")


def _token_response(request: Request, client: OAuthClient, user_id: str, scope: str, access: str,
                    refresh: str | None) -> Response:
    st = _state(request)
    base = base_url(request)
    identity = f"{base}/id/{st.org.org_id}/{user_id}"
    issued_at = str(int(time.time() * 1000))
    body = {"access_token": access}
    if refresh:
        body["refresh_token"] = refresh
    body.update({"signature": signature(client.client_secret, identity, issued_at), "scope": scope,
                 "instance_url": base, "id": identity, "token_type": "Bearer", "issued_at": issued_at})
    return json_response(body, 200, _NO_STORE)


# ----------------------------------------------------------------------------- revoke, identity, info
async def revoke(request: Request) -> Response:
    st = _state(request)
    if request.method == "POST":
        form = await read_form(request)
        value = form.get("token")
    else:
        value = request.query_params.get("token")
    if not value or not st.org.auth.revoke(str(value)):
        return json_response({"error": "invalid_token", "error_description": "Token was invalid"}, 400)
    return Response(b"", 200)


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("bearer", "oauth") and value.strip():
        return value.strip()
    return request.query_params.get("oauth_token")


def _identity(st: EmulatorState, base: str, user_id: str) -> dict:
    row = st.org.users[user_id]
    org_id = st.org.org_id

    def get(name: str):
        return row[U[name]]
    urls = {k: f"{base}{v}" for k, v in {
        "rest": "/services/data/v{version}/", "sobjects": "/services/data/v{version}/sobjects/",
        "search": "/services/data/v{version}/search/", "query": "/services/data/v{version}/query/",
        "recent": "/services/data/v{version}/recent/", "profile": f"/{user_id}",
        "enterprise": "/services/Soap/c/{version}/" + org_id[:15],
        "partner": "/services/Soap/u/{version}/" + org_id[:15], "custom_domain": ""}.items()}
    urls["custom_domain"] = base
    return {
        "id": f"{base}/id/{org_id}/{user_id}", "asserted_user": True, "user_id": user_id, "organization_id": org_id,
        "username": get("Username"), "nick_name": get("CommunityNickname"), "display_name": get("Name"),
        "email": get("Email"), "email_verified": True, "first_name": get("FirstName"), "last_name": get("LastName"),
        "timezone": get("TimeZoneSidKey"), "photos": {"picture": f"{base}/profilephoto/005/F",
                                                       "thumbnail": f"{base}/profilephoto/005/T"},
        "addr_street": None, "addr_city": get("City"), "addr_state": None, "addr_country": get("Country"),
        "addr_zip": None, "mobile_phone": get("MobilePhone"), "mobile_phone_verified": False,
        "is_lightning_login_user": False, "status": {"created_date": None, "body": None}, "urls": urls,
        "active": get("IsActive"), "user_type": "STANDARD", "language": get("LanguageLocaleKey"),
        "locale": get("LocaleSidKey"), "utcOffset": 0, "last_modified_date": get("LastModifiedDate"),
        "is_app_installed": True,
    }


async def identity(request: Request) -> Response:
    st = _state(request)
    grant = st.org.auth.validate(bearer(request) or "")
    org_id, user_id = request.path_params["org_id"], request.path_params["user_id"]
    if grant is None:
        return Response(b"Bad_OAuth_Token", 403, media_type="text/plain")
    if org_id != st.org.org_id or user_id not in st.org.users:
        return Response(b"Bad_Id", 404, media_type="text/plain")
    return json_response(_identity(st, base_url(request), user_id))


async def userinfo(request: Request) -> Response:
    st = _state(request)
    grant = st.org.auth.validate(bearer(request) or "")
    if grant is None:
        return Response(b"Bad_OAuth_Token", 403, media_type="text/plain")
    base = base_url(request)
    info = _identity(st, base, grant.user_id)
    return json_response({
        "sub": info["id"], "user_id": info["user_id"], "organization_id": info["organization_id"],
        "preferred_username": info["username"], "nickname": info["nick_name"], "name": info["display_name"],
        "email": info["email"], "email_verified": True, "given_name": info["first_name"],
        "family_name": info["last_name"], "zoneinfo": info["timezone"], "photos": info["photos"],
        "profile": f"{base}/{grant.user_id}", "picture": info["photos"]["picture"],
        "address": {"country": info["addr_country"]}, "is_salesforce_integration_user": False,
        "urls": info["urls"], "active": info["active"], "user_type": "STANDARD", "language": info["language"],
        "locale": info["locale"], "utcOffset": 0, "updated_at": info["last_modified_date"],
        "is_app_installed": True,
    })


async def discovery(request: Request) -> Response:
    base = base_url(request)
    return json_response({
        "issuer": base, "authorization_endpoint": f"{base}/services/oauth2/authorize",
        "token_endpoint": f"{base}/services/oauth2/token", "revocation_endpoint": f"{base}/services/oauth2/revoke",
        "userinfo_endpoint": f"{base}/services/oauth2/userinfo", "jwks_uri": f"{base}/id/keys",
        "scopes_supported": ["id", "api", "web", "full", "refresh_token", "offline_access", "openid", "profile",
                             "email"],
        "response_types_supported": ["code"], "subject_types_supported": ["public"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials", "password"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
    })
