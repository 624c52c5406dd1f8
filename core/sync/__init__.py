"""IDM's synchronization semantics: mappings, scripts, situations and actions, reconciliation, implicit sync.

Front ends use :class:`SyncService` (the one facade: reconciliations, runs, implicit sync of managed writes)
and :class:`SyncConfig` (``conf/sync.json``). The names are imported on first use (PEP 562), as in
:mod:`core.config`: importing the package costs nothing until one is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.sync.actions import Action
    from core.sync.cluster import ClusteredReconEngine, PageNode
    from core.sync.cluster_worker import ClusterWorker, run_node
    from core.sync.explain import explain_recon
    from core.sync.filters import filter_matching
    from core.sync.implicit import ImplicitResult
    from core.sync.livesync import LiveSyncEngine, LiveSyncResult
    from core.sync.mapping import Mapping, SyncConfig
    from core.sync.observed import observed_fields
    from core.sync.recon import HeldDeletions
    from core.sync.scripts import ScriptEngine, ScriptError
    from core.sync.service import SyncService
    from core.sync.situations import Situation
    from core.sync.user_detail import RemoteLink, UserDetail

_WHERE = {
    "Action": "actions",
    "ClusterWorker": "cluster_worker",
    "ClusteredReconEngine": "cluster",
    "PageNode": "cluster",
    "run_node": "cluster_worker",
    "HeldDeletions": "recon",
    "ImplicitResult": "implicit",
    "LiveSyncEngine": "livesync",
    "LiveSyncResult": "livesync",
    "Mapping": "mapping",
    "ScriptEngine": "scripts",
    "ScriptError": "scripts",
    "RemoteLink": "user_detail",
    "Situation": "situations",
    "SyncConfig": "mapping",
    "SyncService": "service",
    "UserDetail": "user_detail",
    "explain_recon": "explain",
    "filter_matching": "filters",
    "observed_fields": "observed",
}

__all__ = [
    "Action",
    "ClusterWorker",
    "ClusteredReconEngine",
    "PageNode",
    "HeldDeletions",
    "ImplicitResult",
    "LiveSyncEngine",
    "LiveSyncResult",
    "Mapping",
    "ScriptEngine",
    "RemoteLink",
    "ScriptError",
    "Situation",
    "SyncConfig",
    "SyncService",
    "UserDetail",
    "explain_recon",
    "filter_matching",
    "observed_fields",
    "run_node",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'core.sync' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"core.sync.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
