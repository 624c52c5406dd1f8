"""A local Salesforce org: OAuth server and REST data API over an in-memory org of Users and Profiles.

``Org.generate(users, seed)`` / ``Org.load(path)`` build the org; ``create_app(org, ...)`` serves it as a
Starlette app; ``serve(...)`` (in :mod:`core.emulator.server`) runs it with uvicorn and prints the JSON
line the ``sfsync demo-org`` command promises. Stand-alone: imports nothing else of sfsync.
"""

from .app import create_app
from .org import Org

__all__ = ["Org", "create_app"]
