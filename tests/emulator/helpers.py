"""Small helpers shared by the local-org tests: PKCE pairs and the auto-approved code flow."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlsplit

REDIRECT = "http://localhost:1717/OauthRedirect"
V = "/services/data/v62.0"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def auto_code(h, challenge: str, *, redirect: str = REDIRECT, state: str = "st4te",
                    scope: str = "api refresh_token") -> str:
    """Run ``authorize`` on an auto-approving org and return the code from the redirect."""
    r = await h.client.get("/services/oauth2/authorize", params={
        "response_type": "code", "client_id": h.client_id, "redirect_uri": redirect, "state": state,
        "code_challenge": challenge, "code_challenge_method": "S256", "scope": scope})
    assert r.status_code == 302, r.text
    params = query_of(r.headers["location"])
    assert params["state"] == state
    return params["code"]


async def exchange(h, code: str, verifier: str | None, *, redirect: str = REDIRECT, secret: bool = True):
    data = {"grant_type": "authorization_code", "code": code, "client_id": h.client_id, "redirect_uri": redirect}
    if verifier is not None:
        data["code_verifier"] = verifier
    if secret:
        data["client_secret"] = h.client_secret
    return await h.client.post("/services/oauth2/token", data=data)
