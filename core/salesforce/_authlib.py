"""authlib's httpx integration, imported once and quietly.

authlib 1.6+ warns at import that it would prefer the ``httpx2`` package; httpx is what this project
pins, and the warning would otherwise reach every command's stderr.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    import authlib.deprecate  # noqa: F401 - installs its "always" filter first, so ours below wins

    warnings.simplefilter("ignore")
    from authlib.common.security import generate_token
    from authlib.integrations.base_client import OAuthError
    from authlib.integrations.httpx_client import AsyncOAuth2Client

__all__ = ["AsyncOAuth2Client", "OAuthError", "generate_token"]
