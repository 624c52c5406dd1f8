"""The only code that speaks Salesforce: OAuth login, the REST client, the connector the sync engine uses.

Public names, imported on first use (PEP 562; httpx and the OAuth code load only when used):
:class:`SalesforceConnector`, :class:`LoginFlow`, :func:`save_login` (what a login leaves in the provisioner
file), :class:`RetryPolicy`, :class:`ReadPlan` and :func:`plan_read` (which way a full read goes), the errors of
:mod:`core.salesforce.errors`, and :mod:`~core.salesforce.soql` (the only code that builds SOQL from values).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.salesforce import soql
    from core.salesforce.connector import SalesforceConnector, declared_attributes
    from core.salesforce.errors import (
        AuthError,
        LoginError,
        RecordError,
        RecordNotFound,
        SalesforceError,
        TransientError,
    )
    from core.salesforce.login_result import save_login
    from core.salesforce.oauth import LoginFlow
    from core.salesforce.plan import ReadPlan, plan_read
    from core.salesforce.retry import RetryPolicy
    from core.salesforce.systemobjects import SystemObjects
    from core.salesforce.testop import CONFIG_NAME, DISPLAY_NAME, config_error_object

_WHERE = {
    "AuthError": "errors",
    "CONFIG_NAME": "testop",
    "DISPLAY_NAME": "testop",
    "LoginError": "errors",
    "LoginFlow": "oauth",
    "RecordError": "errors",
    "RecordNotFound": "errors",
    "ReadPlan": "plan",
    "RetryPolicy": "retry",
    "SalesforceConnector": "connector",
    "SalesforceError": "errors",
    "SystemObjects": "systemobjects",
    "TransientError": "errors",
    "config_error_object": "testop",
    "declared_attributes": "connector",
    "save_login": "login_result",
    "plan_read": "plan",
}

__all__ = [
    "AuthError",
    "CONFIG_NAME",
    "DISPLAY_NAME",
    "LoginError",
    "LoginFlow",
    "RecordError",
    "RecordNotFound",
    "ReadPlan",
    "RetryPolicy",
    "SalesforceConnector",
    "SalesforceError",
    "SystemObjects",
    "TransientError",
    "config_error_object",
    "declared_attributes",
    "save_login",
    "plan_read",
    "soql",
]


def __getattr__(name: str) -> Any:
    if name == "soql":
        return importlib.import_module("core.salesforce.soql")
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'core.salesforce' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"core.salesforce.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
