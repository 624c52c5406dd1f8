"""The root of sfsync's exception hierarchy.

Every error a user can cause or meet derives from :class:`SfsyncError`, so front ends catch one type and
show its message. Each layer defines its own subclasses next to its code; the ones here are shared by every
layer. Each class says how a front end reports it: ``exit_code`` for the command line, ``http_status`` for the
REST API (``core/api/errors.py`` maps by ``isinstance``, never by a class's name)::

    SfsyncError                       exit 1   HTTP 500
    ├── ConfigError                   exit 2   HTTP 500  (the server's own files: the operator's problem)
    ├── UsageError                    exit 2   HTTP 400
    │   └── core.sync.service.SourceNotFound   HTTP 404  (liveSync of a set no mapping reads)
    ├── core.repo.errors.RepoError             HTTP 500
    │   ├── NotFound                           HTTP 404
    │   ├── PreconditionFailed                 HTTP 412
    │   ├── Conflict                           HTTP 409
    │   ├── ValidationError           exit 2   HTTP 400  (with IDM's failedPolicyRequirements)
    │   │   └── UniqueConflict        exit 2   HTTP 409  (a unique value held by another object)
    │   └── FilterSyntaxError         exit 2   HTTP 400
    ├── core.salesforce.errors.SalesforceError HTTP 502  (Salesforce refused or failed: a gateway error)
    │   ├── AuthError, TransientError          HTTP 502
    │   ├── RecordNotFound                     HTTP 502  (a route that reads a record answers 404 itself)
    │   └── RecordError                        HTTP 502
    ├── core.salesforce.errors.LoginError
    └── core.sync.scripts.ScriptError
"""

from __future__ import annotations


class SfsyncError(Exception):
    """Base class: the message is meant for the user, as is."""

    #: the process exit code a command line should use for this error (see CONTRACT: 1 failed, 2 usage/config)
    exit_code: int = 1
    #: the HTTP status the REST API answers it with
    http_status: int = 500


class ConfigError(SfsyncError):
    """A configuration file or setting is missing or wrong.

    The message names the file and, where known, the line and column (broken JSON) or the field path
    (a wrong value), e.g. ``conf/provisioner.openicf-salesforce.json: configurationProperties.loginUrl: not a URL``.
    """

    exit_code = 2

    def __init__(self, message: str, *, path: str | None = None, field: str | None = None,
                 line: int | None = None, column: int | None = None) -> None:
        self.path = path
        self.field = field
        self.line = line
        self.column = column
        self.detail = message
        where = []
        if path:
            where.append(path if line is None else f"{path}:{line}:{column or 1}")
        if field:
            where.append(field)
        super().__init__(": ".join([*where, message]))


class UsageError(SfsyncError):
    """A command was called wrongly (an unknown mapping, a bad argument)."""

    exit_code = 2
    http_status = 400
