"""The org's state: Profiles, Users, the OAuth client and admin user, and persistence.

Users are kept as lists in :data:`schema.USER_FIELDS` order (about 300 bytes each plus their strings),
indexed by Id, lower-cased Username and CommunityNickname. One re-entrant lock guards every write, so the
org may be served by uvicorn in one thread while a test inspects it from another.
"""

from __future__ import annotations

import gc
import os
import random
import secrets
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from . import ids
from .auth import AuthStore, OAuthClient
from .clock import format_dt, now
from .errors import DataApiError, WriteError
from .rules import check_user_write
from .schema import PROFILE, USER
from .seed import PERSON_FIELDS, people

U = USER.index  # field name -> position in a user row
P = PROFILE.index
_SEED_BASE = datetime(2026, 1, 1, tzinfo=UTC)

# (name, user type, license, description)
PROFILES = (
    ("System Administrator", "Standard", "Salesforce", "Can customise and administer the org"),
    ("Standard User", "Standard", "Salesforce", "Can create and edit most major types of records"),
    ("Read Only", "Standard", "Salesforce", "Can view the org's setup and run reports, not edit"),
    ("Marketing User", "Standard", "Salesforce", "Standard User plus campaigns"),
    ("Contract Manager", "Standard", "Salesforce", "Standard User plus contracts"),
    ("Chatter Free User", "CsnOnly", "Chatter Free", "Chatter only"),
    ("Minimum Access - Salesforce", "Standard", "Salesforce", "Least privilege"),
    ("Salesforce API Only System Integrations", "Standard", "Salesforce Integration", "Integration users"),
    ("Analytics Cloud Integration User", "Standard", "Analytics Cloud Integration User", "CRM Analytics"),
    ("Analytics Cloud Security User", "Standard", "Analytics Cloud Integration User", "CRM Analytics security"),
)
PERSON_PROFILES = ("Standard User", "Standard User", "Standard User", "Marketing User", "Read Only",
                   "Contract Manager", "Chatter Free User", "System Administrator")


class Org:
    """A Salesforce org in memory. Build one with :meth:`generate` or :meth:`load`."""

    def __init__(self, *, org_id: str, name: str, seed: int, auth: AuthStore) -> None:
        self.org_id = org_id
        self.name = name
        self.seed = seed
        self.auth = auth
        self.lock = threading.RLock()
        self.profiles: dict[str, list] = {}
        self.users: dict[str, list] = {}
        self.by_username: dict[str, str] = {}
        self.by_nickname: dict[str, str] = {}
        self.admin_id = ""
        self.admin_password = ""
        self.api_max = 100_000
        self.api_used = 0
        self.next_number = 1
        self.changes = 0                    # bumped on every write; persistence watches it
        self.created = now()

    # ----------------------------------------------------------------------------------- construction
    @classmethod
    def generate(cls, users: int = 250, seed: int = 0) -> Org:
        """A deterministic org (for ``seed``) of ``users`` people plus the system users a real org has.

        Credentials (client secret, admin password) are random on every call: they are secrets.
        """
        if users < 0:
            raise ValueError(f"users: must be >= 0, got {users}")
        rng = random.Random(seed)
        org_id = ids.make_id(ids.ORG_PREFIX, 1 + seed % 1_000_000, pod="5g")
        auth = AuthStore(org_id)
        auth.add_client(OAuthClient.new("sfsync local org"))
        org = cls(org_id=org_id, name="sfsync Local Org", seed=seed, auth=auth)
        with _no_gc():
            org._seed_profiles()
            org._seed_users(users, rng)
        org.admin_password = "Aa1-" + secrets.token_urlsafe(12)
        return org

    def _new_id(self, prefix: str) -> str:
        number = self.next_number
        self.next_number += 1
        return ids.make_id(prefix, number)

    def _seed_profiles(self) -> None:
        stamp = format_dt(_SEED_BASE - timedelta(days=2600))
        for name, utype, _license, desc in PROFILES:
            pid = self._new_id(ids.PROFILE_PREFIX)
            license_id = ids.make_id(ids.LICENSE_PREFIX, sum(map(ord, _license)))
            row = [pid, name, license_id, utype, desc, stamp, "", stamp, "", stamp]
            self.profiles[pid] = row

    def profile_id(self, name: str) -> str:
        for pid, row in self.profiles.items():
            if row[P["Name"]] == name:
                return pid
        raise KeyError(name)

    def _seed_users(self, count: int, rng: random.Random) -> None:
        domain = f"{self.org_id[:15].lower()}.local"
        system: list[tuple[dict[str, Any], str, str]] = [
            ({"FirstName": "Ada", "LastName": "Admin", "Username": f"admin@{domain}", "Email": "admin@example.com",
              "Alias": "aadmin", "CommunityNickname": "admin", "Title": "Salesforce Administrator",
              "Department": "IT"}, "System Administrator", "Standard"),
            ({"FirstName": None, "LastName": "Automated Process", "Username": f"autoproc@{domain}",
              "Email": f"autoproc@{self.org_id[:15].lower()}.example", "Alias": "autoproc",
              "CommunityNickname": "automatedproc"}, "System Administrator", "AutomatedProcess"),
            ({"FirstName": None, "LastName": "Integration User", "Username": f"integration@{domain}",
              "Email": "noreply@example.com", "Alias": "integ", "CommunityNickname": "integration"},
             "Analytics Cloud Integration User", "Standard"),
            ({"FirstName": None, "LastName": "Security User", "Username": f"insightssecurity@{domain}",
              "Email": "noreply@example.com", "Alias": "sec", "CommunityNickname": "insightssecurity"},
             "Analytics Cloud Security User", "Standard"),
        ]
        created = format_dt(_SEED_BASE - timedelta(days=2500))
        width = len(USER.fields)
        admin_id = ids.make_id(ids.USER_PREFIX, self.next_number)
        for values, profile, utype in system:
            self._seed_row(values, self.profile_id(profile), utype, created, created, admin_id, width)
        self.admin_id = admin_id
        self._seed_people(count, rng, admin_id)

    def _seed_people(self, count: int, rng: random.Random, admin_id: str) -> None:
        """Generated people, built straight into rows (100,000 in about a second)."""
        person_profiles = [self.profile_id(name) for name in PERSON_PROFILES]
        days = 2400
        first_day = _SEED_BASE - timedelta(days=days)
        day_text = [(first_day + timedelta(days=d)).strftime("%Y-%m-%d") for d in range(days + 1)]
        minute_text = [f"T{m // 60:02d}:{m % 60:02d}:00.000+0000" for m in range(1440)]
        template: list[Any] = [None] * len(USER.fields)
        for name, value in (("EmailEncodingKey", "UTF-8"), ("UserType", "Standard"), ("CompanyName", self.name),
                            ("CreatedById", admin_id), ("LastModifiedById", admin_id)):
            template[U[name]] = value
        slots = [U[name] for name in PERSON_FIELDS]
        i_id, i_name, i_profile = U["Id"], U["Name"], U["ProfileId"]
        i_created, i_modified, i_stamp = U["CreatedDate"], U["LastModifiedDate"], U["SystemModstamp"]
        i_user, i_nick = U["Username"], U["CommunityNickname"]
        users, by_username, by_nickname = self.users, self.by_username, self.by_nickname
        r = rng.random
        n_profiles = len(person_profiles)
        number = self.next_number
        for n, values in people(rng, count):
            row = template.copy()
            for slot, value in zip(slots, values, strict=True):
                row[slot] = value
            uid = ids.make_id(ids.USER_PREFIX, number)
            number += 1
            row[i_id] = uid
            row[i_name] = f"{values[0]} {values[1]}"
            row[i_profile] = person_profiles[n % n_profiles]
            created_day = int(n / (count + 1) * days)            # older ids were created earlier
            modified_day = created_day + int(r() * (days - created_day))
            row[i_created] = day_text[created_day] + minute_text[int(r() * 1440)]
            row[i_modified] = row[i_stamp] = day_text[modified_day] + minute_text[int(r() * 1440)]
            users[uid] = row
            by_username[row[i_user]] = uid
            by_nickname[row[i_nick].lower()] = uid
        self.next_number = number

    def _seed_row(self, values: dict, profile_id: str, utype: str, created: str, modified: str,
                  by: str, width: int) -> None:
        row: list[Any] = [None] * width
        uid = self._new_id(ids.USER_PREFIX)
        row[U["Id"]] = uid
        for key, value in values.items():
            row[U[key]] = value
        row[U["IsActive"]] = values.get("IsActive", True)
        row[U["Name"]] = _full_name(values.get("FirstName"), values["LastName"])
        row[U["TimeZoneSidKey"]] = values.get("TimeZoneSidKey", "America/Los_Angeles")
        row[U["LocaleSidKey"]] = values.get("LocaleSidKey", "en_US")
        row[U["LanguageLocaleKey"]] = values.get("LanguageLocaleKey", "en_US")
        row[U["EmailEncodingKey"]] = "UTF-8"
        row[U["ProfileId"]] = profile_id
        row[U["UserType"]] = utype
        row[U["CompanyName"]] = "sfsync Local Org"
        row[U["CreatedDate"]] = created
        row[U["LastModifiedDate"]] = modified
        row[U["SystemModstamp"]] = modified
        row[U["CreatedById"]] = by
        row[U["LastModifiedById"]] = by
        self.users[uid] = row
        self.by_username[row[U["Username"]]] = uid
        self.by_nickname[row[U["CommunityNickname"]].lower()] = uid

    # ------------------------------------------------------------------------------------- reading
    @property
    def admin_username(self) -> str:
        return self.users[self.admin_id][U["Username"]]

    def user(self, user_id: str) -> dict | None:
        """A copy of one user as ``{field: value}`` (15- or 18-character id), or None."""
        uid = ids.normalize(user_id) or user_id
        row = self.users.get(uid)
        return USER.as_dict(row) if row is not None else None

    def user_by_username(self, username: str) -> dict | None:
        uid = self.by_username.get(username.lower())
        return self.user(uid) if uid else None

    def profile(self, profile_id: str) -> dict | None:
        row = self.profiles.get(ids.normalize(profile_id) or profile_id)
        return PROFILE.as_dict(row) if row is not None else None

    def exists(self, sobject: str, record_id: str) -> bool:
        if sobject == "User":
            return record_id in self.users
        if sobject == "Profile":
            return record_id in self.profiles
        return False

    def iter_users(self) -> Iterator[dict]:
        for row in list(self.users.values()):
            yield USER.as_dict(row)

    # ------------------------------------------------------------------------------------- writing
    def create_user(self, values: dict, *, by: str | None = None) -> str:
        """Create a User under Salesforce's rules; returns its 18-character id or raises WriteError."""
        with self.lock:
            clean = check_user_write(values, creating=True, exists=self.exists)
            if not clean.get("CommunityNickname"):
                clean["CommunityNickname"] = self._free_nickname(clean["Email"].split("@")[0])
            self._check_unique(clean, None)
            row: list[Any] = [None] * len(USER.fields)
            uid = self._new_id(ids.USER_PREFIX)
            stamp = now()
            row[U["Id"]] = uid
            row[U["IsActive"]] = True
            row[U["UserType"]] = "Standard"
            for key, value in clean.items():
                row[U[key]] = value
            row[U["Name"]] = _full_name(row[U["FirstName"]], row[U["LastName"]])
            row[U["CreatedDate"]] = row[U["LastModifiedDate"]] = row[U["SystemModstamp"]] = stamp
            row[U["CreatedById"]] = row[U["LastModifiedById"]] = by or self.admin_id
            self.users[uid] = row
            self.by_username[row[U["Username"]]] = uid
            self.by_nickname[row[U["CommunityNickname"]].lower()] = uid
            self.changes += 1
            return uid

    def update_user(self, user_id: str, values: dict, *, by: str | None = None) -> None:
        """Apply a PATCH under Salesforce's rules; stamps LastModifiedDate and SystemModstamp."""
        with self.lock:
            uid = ids.normalize(user_id) or ""
            row = self.users.get(uid)
            if row is None:
                raise WriteError([DataApiError(404, "NOT_FOUND", "The requested resource does not exist")])
            clean = check_user_write(values, creating=False, exists=self.exists)
            if clean.get("ManagerId") == uid:
                raise WriteError([DataApiError(400, "FIELD_INTEGRITY_EXCEPTION",
                                           "Manager: A user cannot be his or her own manager", ["ManagerId"])])
            if clean.get("IsActive") is False and uid == (by or self.admin_id):
                raise WriteError([DataApiError(400, "FIELD_INTEGRITY_EXCEPTION",
                                           "Active: You cannot deactivate your own user record", ["IsActive"])])
            self._check_unique(clean, uid)
            old_username, old_nick = row[U["Username"]], row[U["CommunityNickname"]].lower()
            for key, value in clean.items():
                row[U[key]] = value
            row[U["Name"]] = _full_name(row[U["FirstName"]], row[U["LastName"]])
            row[U["LastModifiedDate"]] = row[U["SystemModstamp"]] = now()
            row[U["LastModifiedById"]] = by or self.admin_id
            if row[U["Username"]] != old_username:
                del self.by_username[old_username]
                self.by_username[row[U["Username"]]] = uid
            if row[U["CommunityNickname"]].lower() != old_nick:
                del self.by_nickname[old_nick]
                self.by_nickname[row[U["CommunityNickname"]].lower()] = uid
            self.changes += 1

    def _check_unique(self, clean: dict, uid: str | None) -> None:
        username = clean.get("Username")
        if username is not None and self.by_username.get(username, uid) != uid:
            raise WriteError([DataApiError(
                400, "DUPLICATE_USERNAME",
                "Duplicate Username.<br>The username already exists in this or another Salesforce organization. "
                "Usernames must be unique across all Salesforce organizations. To resolve, use a different "
                "username (it doesn't need to match the user's email address).", ["Username"])])
        nick = clean.get("CommunityNickname")
        if nick is not None and self.by_nickname.get(nick.lower(), uid) != uid:
            raise WriteError([DataApiError(400, "DUPLICATE_COMM_NICKNAME",
                                       "Duplicate Nickname.<br>Another user has already selected this nickname."
                                       "<br>Please select another.", ["CommunityNickname"])])

    def _free_nickname(self, base: str) -> str:
        base = base[:30] or "user"
        candidate, n = base, 1
        while candidate.lower() in self.by_nickname:
            n += 1
            candidate = f"{base}{n}"
        return candidate

    def count_api_call(self) -> bool:
        """Count one API call against DailyApiRequests; False when the daily limit is used up."""
        with self.lock:
            if self.api_used >= self.api_max:
                return False
            self.api_used += 1
            return True

    # --------------------------------------------------------------------------------- persistence
    def to_json(self) -> dict:
        with self.lock:
            return {
                "format": 1, "orgId": self.org_id, "name": self.name, "seed": self.seed, "created": self.created,
                "nextNumber": self.next_number, "adminId": self.admin_id, "adminPassword": self.admin_password,
                "apiMax": self.api_max, "apiUsed": self.api_used, "auth": self.auth.to_json(),
                "profileFields": [f.name for f in PROFILE.fields], "profiles": [list(r) for r in self.profiles.values()],
                "userFields": [f.name for f in USER.fields], "users": [list(r) for r in self.users.values()],
            }

    def save(self, path: str | os.PathLike) -> None:
        """Write the whole org to ``path`` atomically (temp file in the same folder, fsync, rename), mode 0600."""
        target = Path(path)
        data = orjson.dumps(self.to_json())
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike) -> Org:
        """Read an org saved by :meth:`save`; a broken file is a ValueError naming the file."""
        try:
            with _no_gc():
                return cls._from_json(orjson.loads(Path(path).read_bytes()))
        except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            raise ValueError(f"{path}: not a local-org data file ({type(exc).__name__}: {exc})") from None

    @classmethod
    def _from_json(cls, data: dict) -> Org:
        org = cls(org_id=data["orgId"], name=data["name"], seed=data["seed"],
                  auth=AuthStore.from_json(data["orgId"], data["auth"]))
        org.created = data["created"]
        org.next_number, org.admin_id, org.admin_password = data["nextNumber"], data["adminId"], data["adminPassword"]
        org.api_max, org.api_used = data["apiMax"], data["apiUsed"]
        org.profiles = {row[0]: _reorder(row, data["profileFields"], PROFILE) for row in data["profiles"]}
        for stored in data["users"]:
            row = _reorder(stored, data["userFields"], USER)
            uid = row[U["Id"]]
            org.users[uid] = row
            org.by_username[row[U["Username"]]] = uid
            org.by_nickname[row[U["CommunityNickname"]].lower()] = uid
        return org


@contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building 100,000 rows: nothing built is garbage, and the
    collector's repeated passes over the growing heap would double the time it takes."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _reorder(stored: list, names: list[str], sobject) -> list:
    """Map a stored row onto the current field order (fields added since the file was written are None)."""
    if names == [f.name for f in sobject.fields]:
        return stored
    values = dict(zip(names, stored, strict=False))
    return [values.get(f.name) for f in sobject.fields]


def _full_name(first: str | None, last: str | None) -> str:
    return f"{first} {last}" if first else (last or "")
