"""The HTML of the org's login and consent pages (the web-server flow's ``authorize`` step).

Kept plain and self-contained (no scripts, no external assets): a browser, a text browser over SSH and a
test's form parser can all drive it. Every value is HTML-escaped.
"""

from __future__ import annotations

from html import escape

_STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;background:#f3f3f3;margin:0;color:#181818}
main{max-width:380px;margin:60px auto;background:#fff;border:1px solid #ddd;border-radius:6px;padding:28px}
h1{font-size:20px;margin:0 0 6px} p{font-size:14px;line-height:1.4} .sub{color:#555;font-size:13px}
label{display:block;font-size:13px;margin:14px 0 4px} input[type=text],input[type=password]{width:100%;
box-sizing:border-box;padding:9px;border:1px solid #bbb;border-radius:4px;font-size:14px}
button{margin-top:18px;padding:9px 18px;border-radius:4px;border:1px solid #0176d3;font-size:14px;cursor:pointer}
.primary{background:#0176d3;color:#fff} .secondary{background:#fff;color:#0176d3}
.error{background:#fde8e8;border:1px solid #e4a0a0;padding:8px;border-radius:4px;font-size:13px}
ul{font-size:14px}
"""


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{escape(title)}</title>"
            f"<meta name=\"viewport\" content=\"width=device-width\"><style>{_STYLE}</style></head>"
            f"<body><main>{body}</main></body></html>")


def _hidden(params: dict[str, str]) -> str:
    return "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in params.items() if v)


def login_page(org_name: str, params: dict[str, str], username: str = "", error: str | None = None) -> str:
    err = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    return _page("Login | Salesforce", f"""
<h1>Log in to {escape(org_name)}</h1><p class="sub">A local Salesforce org run by sfsync.</p>{err}
<form method="post" action="/services/oauth2/authorize">{_hidden(params)}
<input type="hidden" name="action" value="login">
<label for="username">Username</label><input type="text" id="username" name="username" value="{escape(username)}"
 autocomplete="username" autofocus>
<label for="password">Password</label><input type="password" id="password" name="password"
 autocomplete="current-password">
<button type="submit" class="primary" id="Login">Log In</button></form>""")


def consent_page(app_name: str, username: str, scopes: list[str], params: dict[str, str], ticket: str) -> str:
    items = "".join(f"<li>{escape(_SCOPE_TEXT.get(s, s))}</li>" for s in scopes)
    return _page("Allow Access? | Salesforce", f"""
<h1>Allow Access?</h1><p><b>{escape(app_name)}</b> is asking to:</p><ul>{items}</ul>
<p class="sub">Signed in as {escape(username)}.</p>
<form method="post" action="/services/oauth2/authorize">{_hidden(params)}
<input type="hidden" name="ticket" value="{escape(ticket)}">
<button type="submit" class="secondary" name="action" value="deny" id="oaapprove_deny">Deny</button>
<button type="submit" class="primary" name="action" value="allow" id="oaapprove">Allow</button></form>""")


def error_page(error: str, description: str) -> str:
    return _page("Error | Salesforce", f"""
<h1>OAuth Error</h1><p>We can't authorize you because of an OAuth error. For more information, contact your
Salesforce administrator.</p><p class="error">error={escape(error)}<br>error_description={escape(description)}</p>""")


_SCOPE_TEXT = {
    "api": "Manage user data via APIs (api)",
    "refresh_token": "Perform requests at any time (refresh_token, offline_access)",
    "offline_access": "Perform requests at any time (refresh_token, offline_access)",
    "web": "Manage user data via Web browsers (web)",
    "id": "Access the identity URL service (id, profile, email, address, phone)",
    "full": "Full access (full)",
    "openid": "Access unique user identifiers (openid)",
}
