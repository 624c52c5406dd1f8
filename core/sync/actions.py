"""IDM's reconciliation actions (``sync/ReconAction.java``; reference/idm-sync-semantics.md §2.2).

What each action does to the target and the link, and whether it is reported, lives here as data so the
engine and its tests read the same table.
"""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    """What to do with a record in a given situation."""

    CREATE = "CREATE"        # create the target from the source, then link them
    UPDATE = "UPDATE"        # link if not linked, then update the target if anything changed
    DELETE = "DELETE"        # delete the target (Salesforce: deactivate), then unlink
    LINK = "LINK"            # link the correlated target, change nothing else
    UNLINK = "UNLINK"        # remove the link, change nothing else
    EXCEPTION = "EXCEPTION"  # flag the situation as an exception; the record's status stays SUCCESS; no postAction
    IGNORE = "IGNORE"        # nothing: no change, no postAction (audited)
    REPORT = "REPORT"        # nothing but the audit entry (and the postAction)
    NOREPORT = "NOREPORT"    # nothing, not even a recon audit entry (postAction runs)
    ASYNC = "ASYNC"          # an asynchronous process takes over: nothing here, no postAction (audited)

    def __str__(self) -> str:
        return self.value

    @property
    def writes_target(self) -> bool:
        return self in (Action.CREATE, Action.UPDATE, Action.DELETE)

    @property
    def audited(self) -> bool:
        """A reconciliation writes an audit entry for every record except NOREPORT (``SourceRecon.recon``,
        ``TargetRecon.recon``: ``!NOREPORT.equals(op.action)``); implicit sync audits every one."""
        return self is not Action.NOREPORT

    @property
    def runs_post_action(self) -> bool:
        """``SyncOperation.performAction``: the write actions fall through to REPORT/NOREPORT's postAction;
        EXCEPTION throws before it, IGNORE and ASYNC do nothing."""
        return self not in (Action.IGNORE, Action.ASYNC, Action.EXCEPTION)


def parse_action(value: str) -> Action:
    """``"create"`` or ``"CREATE"`` -> Action.CREATE; ValueError names the accepted values."""
    try:
        return Action(value.upper())
    except (ValueError, AttributeError):
        raise ValueError(f"unknown action {value!r} (one of {', '.join(a.value for a in Action)})") from None
