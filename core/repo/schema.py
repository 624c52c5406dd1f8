"""The managed object schema from ``conf/managed.json``: validation, searchable fields, create defaults.

IDM validates a managed object against its JSON schema and the ``policies`` of each property (``policy.json``).
This module implements what the sample's ``managed/user`` relies on: ``required`` (present, not null, not
an empty string), property ``type``, ``minLength``, ``pattern``, and the policies ``valid-email-address-format``,
``cannot-contain-characters`` and ``valid-username`` / ``unique`` (uniqueness is checked by the repository,
which sees the other objects: :attr:`ManagedSchema.unique`). Undeclared properties are accepted, as IDM
accepts them (the sample round-trips ``profileId``).

The object's script hooks (``onCreate``, ``onUpdate``…) are not this module's: ``core.sync.managed_hooks`` runs
them around every write (the repository never imports the sync engine).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from core.config.project import Project
from core.repo.ecma import SPACE, ecma_regex
from core.repo.errors import FieldError

if TYPE_CHECKING:
    from core.config.loaded import ProjectConfig

__all__ = ["FieldError", "ManagedSchema", "DEFAULT_SEARCHABLE"]

#: the sample's searchable user fields, used when a repository is opened without a schema
DEFAULT_SEARCHABLE = ("userName", "givenName", "sn", "mail", "accountStatus", "description")

# IDM's policy.js valid-email-address-format: something@something.something, no spaces (ECMA-262's \s, spelled
# out: the OpenAPI document's pattern is this text, and Python's \s is not JavaScript's)
EMAIL_PATTERN = f"^[^{SPACE}@]+@[^{SPACE}@]+\\.[^{SPACE}@]+$"
_EMAIL = ecma_regex(EMAIL_PATTERN)

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    "number": (int, float),
    "integer": (int,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
}


def _compile(prop: Mapping[str, Any]) -> Callable[[Any], str | None]:
    """A property's rules (type, minLength, pattern, policies) as one function of the value."""
    declared = prop.get("type")
    kinds: tuple[type, ...] | None = None
    if declared:
        names = declared if isinstance(declared, list) else [declared]
        if not any(n in ("relationship", "any") or n not in _JSON_TYPES for n in names):
            kinds = tuple(t for n in names for t in _JSON_TYPES[n])
    type_text = declared if isinstance(declared, str) else " or ".join(declared or ())
    no_bool = bool(declared) and kinds is not None and bool not in kinds
    min_length = prop.get("minLength") if isinstance(prop.get("minLength"), int) else None
    pattern = ecma_regex(prop["pattern"]) if isinstance(prop.get("pattern"), str) else None  # JSON Schema's meaning
    policies = [p for p in prop.get("policies") or () if isinstance(p, dict)]
    email = any(p.get("policyId") == "valid-email-address-format" for p in policies)
    forbidden = [c for p in policies if p.get("policyId") == "cannot-contain-characters"
                 for c in (p.get("params") or {}).get("forbiddenChars", ())]

    def check(value: Any) -> str | None:
        if kinds is not None and (not isinstance(value, kinds) or (no_bool and isinstance(value, bool))):
            return f"must be of type {type_text}"
        if isinstance(value, str):
            if min_length is not None and len(value) < min_length:
                return f"must be at least {min_length} characters long"
            if pattern is not None and value and not pattern.search(value):
                return f"does not match the pattern {pattern.pattern}"
            if email and value and not _EMAIL.search(value):
                return "is not a valid email address"
            if forbidden:
                bad = [c for c in forbidden if c in value]
                if bad:
                    return f"cannot contain the characters {' '.join(bad)}"
        return None

    return check


@dataclass
class ManagedSchema:
    """One managed object type's schema (``managed.json`` ``objects[name=…].schema``)."""

    name: str = "user"
    required: tuple[str, ...] = ()
    properties: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, project: Project, name: str = "user") -> ManagedSchema:
        """Read ``conf/managed.json`` (errors name the file and field) and pick the object ``name``."""
        data = _load_json(project.managed_path)
        return cls.from_config(data, name=name, source=str(project.managed_path))

    @classmethod
    def of(cls, loaded: ProjectConfig, name: str = "user") -> ManagedSchema | None:
        """``loaded``'s ``managed.json`` schema of ``name``, checked once per look (None: no managed.json)."""
        def build() -> ManagedSchema | None:
            data = loaded.managed_data
            return None if data is None else cls.from_config(data, name=name,
                                                             source=str(loaded.project.managed_path))

        return loaded.view(f"managed_schema:{name}", build)

    @classmethod
    def from_config(cls, data: Mapping[str, Any], *, name: str = "user", source: str = "managed.json",
                    ) -> ManagedSchema:
        from core.errors import ConfigError

        objects = data.get("objects")
        if not isinstance(objects, list):
            raise ConfigError("expected a list", path=source, field="objects")
        for index, obj in enumerate(objects):
            if isinstance(obj, dict) and obj.get("name") == name:
                schema = obj.get("schema") or {}
                props = schema.get("properties") or {}
                if not isinstance(props, dict):
                    raise ConfigError("expected an object", path=source,
                                      field=f"objects[{index}].schema.properties")
                return cls(
                    name=name,
                    required=tuple(schema.get("required") or ()),
                    properties={k: v for k, v in props.items() if isinstance(v, dict)},
                )
        raise ConfigError(f"no managed object named {name!r}", path=source, field="objects")

    # ------------------------------------------------------------------------------------------ facts

    @property
    def searchable(self) -> tuple[str, ...]:
        """Top-level string properties marked ``searchable``: the repository indexes these."""
        if not self.properties:
            return DEFAULT_SEARCHABLE
        return tuple(k for k, v in self.properties.items()
                     if v.get("searchable") and not k.startswith("_") and v.get("type", "string") == "string")

    @property
    def unique(self) -> tuple[str, ...]:
        """Properties whose policies demand a unique value (IDM's ``valid-username`` includes ``unique``)."""
        out = []
        for key, prop in self.properties.items():
            ids = {p.get("policyId") for p in prop.get("policies") or () if isinstance(p, dict)}
            if ids & {"unique", "valid-username"}:
                out.append(key)
        return tuple(out)

    # ------------------------------------------------------------------------------------------ rules

    def validate(self, obj: Mapping[str, Any]) -> list[FieldError]:
        """Every rule the object breaks, one :class:`FieldError` per field (empty when valid)."""
        errors: list[FieldError] = []
        for key in self.required:
            value = obj.get(key)
            if value is None or value == "":
                errors.append(FieldError(key, "is required"))
        checks, plain = self._checks, self._plain
        for key, value in obj.items():
            if value is None or plain.get(key) is type(value):  # a string where only "a string" is asked
                continue
            check = checks.get(key)
            if check is not None:
                message = check(value)
                if message:
                    errors.append(FieldError(key, message))
        return errors

    @cached_property
    def _checks(self) -> dict[str, Callable[[Any], str | None]]:
        """One compiled checker per declared property: validation runs per record in bulk writes."""
        return {key: _compile(prop) for key, prop in self.properties.items() if key not in ("_id", "_rev")}

    @cached_property
    def _plain(self) -> dict[str, type]:
        """Properties whose only rule is ``type: string``: a ``str`` value needs no call (the common case)."""
        out: dict[str, type] = {}
        for key, prop in self.properties.items():
            if key in ("_id", "_rev") or prop.get("type") != "string" or "minLength" in prop or "pattern" in prop:
                continue
            ids = {p.get("policyId") for p in prop.get("policies") or () if isinstance(p, dict)}
            if not ids & {"valid-email-address-format", "cannot-contain-characters"}:
                out[key] = str
        return out

    def check(self, obj: Mapping[str, Any]) -> None:
        """Raise :class:`ValidationError` listing every field error, or return."""
        from core.repo.errors import ValidationError

        errors = self.validate(obj)
        if errors:
            raise ValidationError(errors, resource=f"managed/{self.name}")


def _load_json(path: Any) -> Any:
    """Through ``core.config.jsonfile`` (which owns JSON error reporting) when present, else plain json."""
    try:
        from core.config.jsonfile import load_json
    except ImportError:  # the config package's helper not there yet: same error shape, done here
        import json

        from core.errors import ConfigError

        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(exc.strerror or "cannot be read", path=str(path)) from None
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(exc.msg, path=str(path), line=exc.lineno, column=exc.colno) from None
    data, _raw = load_json(path)
    return data
