"""The keys IDM defines on a ``sync.json`` mapping, and what sfsync does with each.

IDM compatibility is a promise: a key IDM defines either works as IDM's docs say, or loading refuses it with the
file, the mapping and the key named (exit 2). It is never silently ignored. Keys IDM does not define are kept
as they are (``Mapping.raw``), so a file sfsync writes back still carries them.

Sources: reference/idm-sync-semantics.md §2 and reference/idm-beyond-the-sample.md §5 and §8.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["IMPLEMENTED", "TUNING", "check_clustered", "check_keys"]

#: keys whose behaviour sfsync implements (the engine reads them)
IMPLEMENTED = frozenset({
    "name", "source", "target", "links", "displayName", "properties", "policies", "validSource", "validTarget",
    "sourceCondition", "correlationQuery", "correlationScript", "onCreate", "onUpdate", "onDelete", "onLink",
    "onUnlink", "onRecon", "result", "enableSync", "runTargetPhase", "allowEmptySourceSet",
    "correlateEmptyTargetSet", "clusteredSourceReconEnabled",
})

#: keys that tune how IDM runs a reconciliation (threads, paging, prefetching) and never change its results;
#: sfsync has its own engine (pages of 2,000, pipelined commits), so they are accepted and have no effect
TUNING = frozenset({
    "taskThreads", "feedSize", "prefetchLinks", "reconSourceQueryPaging", "reconSourceQueryPageSize",
    "reconTargetQueryPaging", "reconTargetQueryPageSize", "sourceQueryFullEntry", "targetQueryFullEntry", "icon",
    "description",
})

#: keys accepted only at the value that is IDM's default (the behaviour sfsync has); any other value is refused
_DEFAULT_ONLY: dict[str, tuple[Any, str]] = {
    "sourceIdsCaseSensitive": (True, "sfsync compares source ids case-sensitively, as IDM's default does"),
    "targetIdsCaseSensitive": (True, "sfsync compares target ids case-sensitively, as IDM's default does"),
    "enableLinking": (True, "sfsync always links"),
    "consentRequired": (False, "sfsync has no privacy-consent service"),
}

#: keys IDM defines that sfsync does not implement: refused, with the reason
_REFUSED: dict[str, str] = {
    "sourceQuery": "restricting the source set by a query is not implemented yet; use sourceCondition or validSource",
    "targetQuery": "restricting the target set by a query is not implemented yet; use validTarget",
    "onError": "onError scripts are not implemented",
    "defaultMapping": "replacing IDM's defaultMapping script is not supported",
    "postMapping": "replacing IDM's postMapping script is not supported",
    "optimizeAssignmentSync": "assignment sync (roles) is not part of sfsync",
}


def check_keys(raw: Mapping[str, Any], fail: Callable[[str, str], Exception], at: str, name: str) -> None:
    """Refuse what IDM defines and sfsync does not do; ``fail(field_path, message)`` makes the error."""
    for key, value in raw.items():
        if key in IMPLEMENTED or key in TUNING:
            continue
        if key in _DEFAULT_ONLY:
            default, why = _DEFAULT_ONLY[key]
            if value != default:
                raise fail(f"{at}.{key}", f"mapping {name}: only {key}: {_json(default)} is supported ({why})")
        elif key == "linkQualifiers":
            if value != ["default"]:
                raise fail(f"{at}.{key}", f"mapping {name}: only the \"default\" link qualifier is supported "
                                          "(several qualifiers per mapping are not implemented)")
        elif key in _REFUSED:
            raise fail(f"{at}.{key}", f"mapping {name}: {key} is an IDM key sfsync does not implement: "
                                      f"{_REFUSED[key]}")


def check_clustered(raw: Mapping[str, Any], fail: Callable[[str, str], Exception], at: str, name: str,
                    postgresql: Callable[[], bool]) -> None:
    """``clusteredSourceReconEnabled: true`` needs a repository every node shares: PostgreSQL (README,
    "Outgrowing one machine"); ``postgresql()`` says whether the project's repository is one."""
    if raw.get("clusteredSourceReconEnabled") is True and not postgresql():
        raise fail(f"{at}.clusteredSourceReconEnabled",
                   f"mapping {name}: clusteredSourceReconEnabled: true needs a PostgreSQL repository (SFSYNC_REPO_URL "
                   "or conf/datasource.jdbc-default.json), which every node shares; this project's repository is "
                   "the SQLite file db/sfsync.sqlite3, which one process uses alone")


def _json(value: Any) -> str:
    return "true" if value is True else "false" if value is False else repr(value)
