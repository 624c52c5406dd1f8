"""Help for the Connector screen: creating the Salesforce app that sfsync logs in with.

Nothing here is on the screen by default (its look is unchanged): Textual's help panel (command palette,
"Keys", while a field has the focus) shows :data:`CONNECTOR_HELP`, a pointer with the essentials, and the
palette command "Salesforce app setup" opens :class:`SalesforceAppHelp`, the steps in full. The README's
"Creating the Salesforce app" says the same.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen

CONNECTOR_HELP = """\
**Salesforce app**: step by step under *Salesforce app setup* in the command palette (ctrl+p).
In short: since Spring '26 create an **External Client App** (existing Connected Apps keep working);
OAuth on, callback `http://localhost:1717/OauthRedirect`, scopes `api`, `refresh_token offline_access`,
`id`, PKCE required; Consumer Key and Secret go in the fields here.
"""

SALESFORCE_APP_STEPS = """\
# Creating the Salesforce app for sfsync

Since Spring '26 an org cannot create new Connected Apps (existing ones keep working, and can still be
edited): a new integration uses an **External Client App**.

1. Setup, Quick Find *External Client App Manager*, **New External Client App**. A name (e.g. sfsync),
   your contact email, Distribution State **Local**.
2. *API (Enable OAuth Settings)*: check **Enable OAuth**. Callback URL
   `http://localhost:1717/OauthRedirect` (another port: `callback_port` in `conf/sfsync.toml` and
   `sfsync login --port`, with the same URL here).
3. Selected OAuth scopes: *Manage user data via APIs* (`api`), *Perform requests at any time*
   (`refresh_token`, `offline_access`), *Access the identity URL service* (`id`, `profile`, `email`, …).
4. Security: keep *Require secret for Web Server Flow* and *Require secret for Refresh Token Flow*
   (sfsync sends the secret), and check **Require Proof Key for Code Exchange (PKCE)** (sfsync always
   sends an S256 challenge). No other flow is needed. **Create.**
5. *Policies* tab, **Edit**, *OAuth Policies*: **Refresh Token Policy** *Refresh token is valid until
   revoked* for unattended runs (schedules, `sfsync serve`); with an expiry, runs fail with `invalid_grant`
   once it passes and you log in again. With refresh token rotation on, sfsync saves each new token at once.
   *Permitted Users* and *IP Relaxation* as your org requires (admin-approved: give the sync user's profile
   or permission set access). **Save.**
6. *Settings* tab, *OAuth Settings*, **Consumer Key and Secret**: Salesforce sends a verification code,
   then shows both. Paste them into **Consumer Key** and **Consumer Secret** on this screen (or
   `sfsync login --client-id` and `SFSYNC_CLIENT_SECRET`), **Save**, then **Log in** (ctrl+l). A new app
   can take a few minutes before it accepts logins.

The user who logs in needs *API Enabled*, and *Manage Users* for changes pushed back to Salesforce.

## An existing Connected App

It keeps working. Setup, **App Manager**, the app's menu: **Edit** to add the callback URL and the scopes
above (and *Require PKCE* if you want it enforced); **View**, *Manage Consumer Details* for the consumer
key and secret; **Manage**, *Edit Policies* for the Refresh Token Policy and Permitted Users.

Escape closes this help.
"""


class SalesforceAppHelp(ModalScreen[None]):
    """The External Client App steps, scrollable; Escape closes."""

    DEFAULT_CSS = """
    SalesforceAppHelp { align: center middle; }
    SalesforceAppHelp #app-help-box {
        width: 95%; max-width: 110; height: 90%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss", "Close", id="app-help-close")]

    def compose(self) -> ComposeResult:
        from textual.widgets import Markdown  # here: markdown-it is not needed at start-up

        with VerticalScroll(id="app-help-box"):
            yield Markdown(SALESFORCE_APP_STEPS, id="app-help")
