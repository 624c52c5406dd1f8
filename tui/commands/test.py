"""``sfsync test``: IDM's connector test (``system?_action=test``) for the Salesforce connector.

Prints the test object as IDM returns it (``name``, ``enabled``, ``config``, ``connectorRef``,
``displayName``, ``objectTypes``, ``ok``, and ``error`` when not ok). Exit 0 only when ``ok``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "test", help="test the Salesforce connector (IDM's system?_action=test)",
        description="Refresh an access token and call the org's REST API. Prints IDM's test object; "
                    "exit 0 when ok, 1 when not (disabled, no credentials, refused, unreachable), "
                    "2 when the configuration file is wrong.")
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from core.config import Project

    project = Project.resolve(args.project)
    result = asyncio.run(run(project))
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0 if result.get("ok") else 1


async def run(project: Any) -> dict[str, Any]:
    from core.salesforce import RetryPolicy, SalesforceConnector

    # a test answers in seconds: a couple of quick retries, not the sync engine's patience
    policy = RetryPolicy(attempts=3, base_delay=0.5, max_delay=2.0, max_elapsed=15.0)
    async with SalesforceConnector.from_project(project, retry=policy) as connector:
        return await connector.test()
