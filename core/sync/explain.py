"""``sfsync recon MAPPING --explain``: how a full reconciliation of a mapping would read and write Salesforce,
without running it (one ``SELECT COUNT()`` call per Salesforce side tells the size and times the org)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.config.loaded import ProjectConfig
    from core.config.project import Project


async def explain_recon(project: Project, name: str, connector_factory: Callable[[], Any] | None = None,
                        *, config: ProjectConfig | None = None) -> dict[str, Any]:
    """``{"mapping", "source", "target", "reads": [...], "writes": {...}|None}``: per side, its read's plan
    (:class:`core.salesforce.plan.ReadPlan` as JSON, with ``role`` and ``resource``); a managed side is read
    from the repository. An unknown mapping is the UsageError :meth:`SyncConfig.get` raises. ``config``: the
    operation's look at the files (a new one when omitted)."""
    from core.config.loaded import ProjectConfig
    from core.sync.mapping import SyncConfig

    loaded = config or ProjectConfig.load(project)
    mapping = SyncConfig.of(loaded).get(name)
    settings = loaded.settings
    reads: list[dict[str, Any]] = []
    writes: dict[str, Any] | None = None
    for role, resource in (("source", mapping.source), ("target", mapping.target)):
        parts = resource.split("/")
        if len(parts) != 3 or parts[:2] != ["system", "salesforce"]:
            reads.append({"role": role, "resource": resource, "path": "repository",
                          "why": "a managed object: read from the local repository"})
            continue
        connector = connector_factory() if connector_factory is not None else _connector(loaded)
        async with connector:
            plan = await connector.explain_read(parts[2], settings.bulk_query_threshold, settings.bulk_query)
            if role == "target":
                writes = {"resource": resource, "path": "composite/sobjects", "records_per_call": 200,
                          "calls_at_once": connector.batch_concurrency,
                          "why": "changes are sent 200 a call, several calls at once; results per record, "
                                 "in order"}
        reads.append({"role": role, "resource": resource, **plan.to_json()})
    return {"mapping": name, "source": mapping.source, "target": mapping.target, "reads": reads,
            "writes": writes}


def _connector(loaded: ProjectConfig) -> Any:
    from core.salesforce.connector import SalesforceConnector

    return SalesforceConnector.from_config(loaded)
