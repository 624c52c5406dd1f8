"""IDM's REST API over sfsync's core (``sfsync serve``): ``create_app(project)`` builds the Starlette app."""

from core.api.app import create_app

__all__ = ["create_app"]
