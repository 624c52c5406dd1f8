"""IDM's REST API over sfsync's core (``sfsync serve``): ``create_app(project)`` builds the Starlette app."""

from core.api.app import create_app
from core.api.auth import DEFAULT_USERNAME, hash_password, is_loopback
from core.api.protocol import limited_protocol
from core.api.tls import plain_http_refusal, server_context

__all__ = ["DEFAULT_USERNAME", "create_app", "hash_password", "is_loopback", "limited_protocol", "plain_http_refusal",
           "server_context"]
