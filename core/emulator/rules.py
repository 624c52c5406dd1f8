"""Salesforce's write rules for User: which fields may be written, with which values.

Checks run in the order Salesforce reports them (unknown field, read-only field, value type, required
fields, length, picklist, format, references); the first failing check's errors are raised together as a
:class:`WriteError`. Uniqueness (Username, CommunityNickname) is checked by the org under its write lock.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from . import ids
from .errors import DataApiError, WriteError
from .schema import USER, Field, SObjectType

# Salesforce's own order in "Required fields are missing: [...]" for User.
REQUIRED_ORDER = ("Username", "LastName", "Email", "Alias", "TimeZoneSidKey", "LocaleSidKey",
                  "EmailEncodingKey", "ProfileId", "LanguageLocaleKey")
_EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")


def is_email(value: str) -> bool:
    return bool(_EMAIL_RE.match(value)) and ".." not in value and len(value) <= 128


def _field(sobject: SObjectType, name: str) -> Field:
    f = sobject.field(name)
    if f is None:  # pragma: no cover - names come from the schema itself
        raise KeyError(name)
    return f


def _fail(errors: list[DataApiError]) -> None:
    if errors:
        raise WriteError(errors)


def check_user_write(values: dict, *, creating: bool, exists: Callable[[str, str], bool],
                     sobject: SObjectType = USER) -> dict:
    """Validate a create or update body; return ``{canonical field name: value}`` ready to store.

    ``exists(object_name, id18)`` answers whether a referenced record exists (Profile, User).
    """
    fields = {}
    errors: list[DataApiError] = []
    for key, value in values.items():
        if key == "attributes":
            continue
        if key.lower() == "id":
            if creating:
                errors.append(DataApiError(400, "INVALID_FIELD", "The Id field should not be specified in the sobject data."))
            continue
        f = sobject.field(key)
        if f is None:
            errors.append(DataApiError(400, "INVALID_FIELD", f"No such column '{key}' on sobject of type {sobject.name}"))
            continue
        fields[f] = value
    _fail(errors)

    readonly = [f.name for f in fields if not (f.createable if creating else f.updateable)]
    if readonly:
        names = ", ".join(readonly)
        raise WriteError([DataApiError(
            400, "INVALID_FIELD_FOR_INSERT_UPDATE",
            f"Unable to create/update fields: {names}. Please check the security settings of this field and "
            "verify that it is read/write for your profile or permission set.", readonly)])

    out: dict = {}
    for f, value in fields.items():
        if f.type == "boolean":
            if value is None:
                value = False
            if not isinstance(value, bool):
                errors.append(DataApiError(400, "JSON_PARSER_ERROR",
                                       f"Cannot deserialize instance of boolean from VALUE_STRING value {value} "
                                       f"or request may be missing a required field", [f.name]))
                continue
        elif value is not None:
            if isinstance(value, bool) or isinstance(value, (dict, list)):
                errors.append(DataApiError(400, "JSON_PARSER_ERROR",
                                       f"Cannot deserialize instance of string from {type(value).__name__} value "
                                       f"or request may be missing a required field", [f.name]))
                continue
            value = str(value)
            if value == "":            # Salesforce stores an empty string as null
                value = None
        out[f.name] = value
    _fail(errors)

    missing = [name for name in REQUIRED_ORDER
               if (creating and out.get(name) is None) or (not creating and name in out and out[name] is None)]
    if not creating and "CommunityNickname" in out and out["CommunityNickname"] is None:
        missing.append("CommunityNickname")
    if missing:
        raise WriteError([DataApiError(400, "REQUIRED_FIELD_MISSING",
                                   f"Required fields are missing: [{', '.join(missing)}]", missing)])

    for name, value in out.items():
        f = _field(sobject, name)
        if isinstance(value, str) and f.length and len(value) > f.length:
            errors.append(DataApiError(400, "STRING_TOO_LONG",
                                   f"{f.label}: data value too large: {value} (max length={f.length})", [name]))
    _fail(errors)

    for name, value in out.items():
        f = _field(sobject, name)
        if f.picklist is not None and value is not None and value not in f.picklist:
            errors.append(DataApiError(400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                                   f"{f.label}: bad value for restricted picklist field: {value}", [name]))
    _fail(errors)

    if "Username" in out:
        if not is_email(out["Username"]):
            raise WriteError([DataApiError(400, "INVALID_NEW_USERNAME",
                                       "Username must be in the form of an email address "
                                       f"(for example, john@acme.com): {out['Username']}", ["Username"])])
        out["Username"] = out["Username"].lower()
    if "Email" in out and not is_email(out["Email"]):
        raise WriteError([DataApiError(400, "INVALID_EMAIL_ADDRESS", f"Email: invalid email address: {out['Email']}",
                                   ["Email"])])

    for name, target, prefix in (("ProfileId", "Profile", ids.PROFILE_PREFIX), ("ManagerId", "User", ids.USER_PREFIX),
                                 ("UserRoleId", "UserRole", "00E")):
        value = out.get(name)
        if value is None:
            continue
        f = _field(sobject, name)
        normal = ids.normalize(value)
        if normal is None:
            errors.append(DataApiError(400, "MALFORMED_ID", f"{f.label}: id value of incorrect type: {value}", [name]))
        elif not normal.startswith(prefix):
            errors.append(DataApiError(400, "FIELD_INTEGRITY_EXCEPTION",
                                   f"{f.label}: id value of incorrect type: {value}", [name]))
        elif not exists(target, normal):
            errors.append(DataApiError(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [name]))
        else:
            out[name] = normal
    _fail(errors)
    return out
