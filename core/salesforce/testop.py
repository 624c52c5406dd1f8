"""IDM's connector test (``POST /openidm/system?_action=test``) for the Salesforce connector.

The object has IDM's shape and names, so scripts written for IDM read it unchanged; ``error`` says
in one sentence why the connector is not usable: disabled, no credentials, a refused client or token,
or an unreachable org.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.salesforce.errors import AuthError, SalesforceError, TransientError

if TYPE_CHECKING:
    from core.salesforce.connector import SalesforceConnector

CONFIG_NAME = "config/provisioner.openicf/salesforce"
DISPLAY_NAME = "Salesforce Connector"


def test_object(connector: SalesforceConnector) -> dict[str, Any]:
    """The test object before the outcome is known (``ok`` false)."""
    config = connector.config
    return {
        "name": connector.name,
        "enabled": config.enabled,
        "config": CONFIG_NAME,
        "connectorRef": config.connectorRef,
        "displayName": DISPLAY_NAME,
        "objectTypes": config.object_type_names,
        "ok": False,
    }


def config_error_object(exc: Exception) -> dict[str, Any]:
    """The test object for a provisioner file that cannot even be read (``ok`` false, the reason)."""
    return {"name": "salesforce", "enabled": False, "config": CONFIG_NAME, "displayName": DISPLAY_NAME,
            "objectTypes": [], "ok": False, "error": str(exc)}


def missing_credentials(connector: SalesforceConnector) -> str | None:
    """Why the configuration cannot even try, or ``None``."""
    props = connector.config.properties
    unreadable = props.unreadable_secrets
    if unreadable:
        return "no credentials: " + "; ".join(f"{name} {why}" for name, why in unreadable.items())
    missing = [name for name, value in (("clientId", props.clientId), ("refreshToken", props.refresh_token),
                                        ("instanceUrl", props.instanceUrl)) if not value]
    if missing:
        return f"no credentials: {', '.join(missing)} not set (run sfsync login)"
    return None


async def run_test(connector: SalesforceConnector) -> dict[str, Any]:
    """Refresh a token and read the API version resource; ``ok`` only when both work."""
    result = test_object(connector)
    if not connector.config.enabled:
        result["error"] = "connector is disabled (enabled is false in provisioner.openicf-salesforce.json)"
        return result
    reason = missing_credentials(connector)
    if reason:
        result["error"] = reason
        return result
    session = connector.session
    try:
        await session.refresh()
        await session.get_json(session.base_path)
    except AuthError as exc:
        result["error"] = f"token refused: {exc}"
        return result
    except TransientError as exc:
        result["error"] = f"unreachable: {exc}"
        return result
    except SalesforceError as exc:
        result["error"] = str(exc)
        return result
    result["ok"] = True
    return result
