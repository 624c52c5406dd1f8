"""``conf/sync.json``: IDM's mappings, read as IDM reads them (reference/idm-sync-semantics.md §1.2, §2).

Everything the engine needs is parsed and checked at load time, so a mistake is a ``ConfigError`` naming
the file and the field (``conf/sync.json: mappings[1].policies[3].action: unknown action 'CRATE'``) before any
record is touched. Unknown keys are kept in ``Mapping.raw``: IDM has many we do not use.
Scripts are held as :class:`ScriptSpec` and compiled per :class:`ScriptEngine` (one per thread).
"""

from __future__ import annotations

from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.config.jsonfile import load_json
from core.config.project import Project
from core.errors import ConfigError, UsageError
from core.sync import filters
from core.sync.actions import Action, parse_action
from core.sync.idm_keys import check_clustered, check_keys
from core.sync.scripts import ScriptEngine, ScriptError, ScriptSpec
from core.sync.situations import Situation

if TYPE_CHECKING:
    from core.config.loaded import ProjectConfig

MANAGED_USER = "managed/user"


@dataclass(frozen=True)
class Condition:
    """A ``condition``/``sourceCondition``: an IDM query filter or a script; true when the record passes."""

    name: str
    tree: Any = None
    script: ScriptSpec | None = None

    def test(self, engine: ScriptEngine, variables: dict[str, Any]) -> bool:
        if self.script is not None:
            return engine.script(self.script).boolean(**variables)
        return filters.evaluate(self.tree, variables)


@dataclass(frozen=True)
class PropertyMapping:
    target: str
    source: str | None = None  # None: no source (the value is the default); "": the whole source object
    transform: ScriptSpec | None = None
    default: Any = None
    has_default: bool = False
    condition: Condition | None = None

    target_path: tuple[str, ...] = ()
    source_path: tuple[str, ...] = ()

    def __post_init__(self) -> None:  # split once: applied to every record of every page
        object.__setattr__(self, "target_path", tuple(p for p in self.target.split("/") if p))
        object.__setattr__(self, "source_path", tuple(p for p in (self.source or "").split("/") if p))


@dataclass(frozen=True)
class Policy:
    situation: Situation
    action: Action | None = None
    action_script: ScriptSpec | None = None
    condition: Condition | None = None
    post_action: ScriptSpec | None = None


@dataclass(frozen=True)
class Correlation:
    """How an unlinked source finds its target: a query filter template (``${source.Username}``), an IDM
    expression tree (``{"all": ["userName"]}``: target fields that must equal the mapped value), or a script
    returning ``{"_queryFilter": ...}``."""

    template: str | None = None
    tree_fields: tuple[str, ...] = ()
    tree_any: bool = False
    script: ScriptSpec | None = None
    #: ``correlationScript``: returns the correlated targets as a list of ``{"_id": ...}``
    ids_script: ScriptSpec | None = None


@dataclass
class Mapping:
    """One mapping of sync.json."""

    name: str
    source: str
    target: str
    properties: list[PropertyMapping]
    policies: dict[Situation, list[Policy]]
    raw: dict[str, Any]
    index: int = 0
    display_name: str | None = None
    links: str | None = None
    valid_source: ScriptSpec | None = None
    valid_target: ScriptSpec | None = None
    source_condition: Condition | None = None
    correlation: Correlation | None = None
    on_create: ScriptSpec | None = None
    on_update: ScriptSpec | None = None
    on_delete: ScriptSpec | None = None
    on_link: ScriptSpec | None = None
    on_unlink: ScriptSpec | None = None
    on_recon: ScriptSpec | None = None
    result: ScriptSpec | None = None
    enable_sync: bool = True
    run_target_phase: bool = True
    allow_empty_source_set: bool = False
    correlate_empty_target_set: bool = False
    #: IDM's ``clusteredSourceReconEnabled``: the source phase's pages go to every node (core/sync/cluster.py)
    clustered: bool = False
    #: the mapping whose links this one uses, reversed (set by SyncConfig: ``links``)
    reversed_links: bool = field(default=False)

    @property
    def link_type(self) -> str:
        """IDM stores a link once, under the mapping that owns it; ``links: OTHER`` reuses OTHER's."""
        return self.links or self.name


@dataclass
class SyncConfig:
    """All mappings of a project, in sync.json order (the order implicit sync runs them in)."""

    mappings: list[Mapping]
    path: Path
    raw: dict[str, Any]
    base_dir: Path | None = None

    @classmethod
    def load(cls, project: Project) -> SyncConfig:
        if not project.sync_path.exists():
            raise ConfigError("not found (a project needs conf/sync.json)", path=str(project.sync_path))
        data, _ = load_json(project.sync_path)
        config = cls.from_data(data, path=project.sync_path, base_dir=project.root)
        config._check_clustered(project)
        return config

    def _check_clustered(self, project: Project) -> None:
        """``clusteredSourceReconEnabled: true`` needs a PostgreSQL repository: refused at load otherwise."""
        from core.repo import pg_settings  # which repository: only a clustered mapping asks

        parser = _Parser(_display_path(project.sync_path), project.root)
        for m in self.mappings:
            check_clustered(m.raw, parser.fail, f"mappings[{m.index}]", m.name,
                            lambda: pg_settings(project.conf_dir) is not None)

    @classmethod
    def of(cls, loaded: ProjectConfig) -> SyncConfig:
        """``loaded``'s sync.json, checked once per look (:meth:`ProjectConfig.view`); errors as :meth:`load`'s.
        Shared by the look's users: read it, never change it."""
        def build() -> SyncConfig:
            project = loaded.project
            data = loaded.sync_data
            if data is None:
                raise ConfigError("not found (a project needs conf/sync.json)", path=str(project.sync_path))
            config = cls.from_data(data, path=project.sync_path, base_dir=project.root)
            config._check_clustered(project)
            loaded.watch(spec.origin for m in config.mappings for spec in _all_scripts(m) if spec and spec.origin)
            return config

        return loaded.view("sync", build)

    @classmethod
    def from_data(cls, data: Any, *, path: Path, base_dir: Path | None = None) -> SyncConfig:
        where = _display_path(path)
        if not isinstance(data, MappingABC) or not isinstance(data.get("mappings"), list):
            raise ConfigError("expected an object with a \"mappings\" list", path=where, field="mappings")
        parser = _Parser(where, base_dir)
        mappings = [parser.mapping(m, i) for i, m in enumerate(data["mappings"])]
        seen: set[str] = set()
        for m in mappings:
            if m.name in seen:
                raise ConfigError(f"duplicate mapping name {m.name!r}", path=where, field=f"mappings[{m.index}].name")
            seen.add(m.name)
        by_name = {m.name: m for m in mappings}
        for m in mappings:
            if m.links is None:
                continue
            other = by_name.get(m.links)
            if other is None:
                raise ConfigError(f"links names no mapping {m.links!r}", path=where, field=f"mappings[{m.index}].links")
            if (other.source, other.target) != (m.target, m.source):
                raise ConfigError(f"links: {m.links!r} must map {m.target} to {m.source}",
                                  path=where, field=f"mappings[{m.index}].links")
            m.reversed_links = True
        config = cls(mappings=mappings, path=path, raw=dict(data), base_dir=base_dir)
        config.check_scripts()
        return config

    def check_scripts(self) -> None:
        """Compile every script once, so a syntax error is a ConfigError at load time."""
        engine = ScriptEngine()
        for m in self.mappings:
            for spec in _all_scripts(m):
                try:
                    engine.script(spec)
                except ScriptError as exc:
                    raise ConfigError(exc.detail, path=_display_path(self.path), field=spec.name) from None

    def names(self) -> list[str]:
        return [m.name for m in self.mappings]

    def get(self, name: str) -> Mapping:
        """The mapping called ``name``; a UsageError listing the mappings there are otherwise."""
        for m in self.mappings:
            if m.name == name:
                return m
        known = ", ".join(self.names()) or "(none)"
        raise UsageError(f"unknown mapping {name!r}; the mappings in {_display_path(self.path)} are: {known}")

    def from_source(self, source: str) -> list[Mapping]:
        """The mappings implicit sync runs for a change in ``source``, in sync.json order."""
        return [m for m in self.mappings if m.source == source and m.enable_sync]


def _all_scripts(m: Mapping) -> list[ScriptSpec]:
    specs = [m.valid_source, m.valid_target, m.on_create, m.on_update, m.on_delete, m.on_link, m.on_unlink]
    if m.source_condition and m.source_condition.script:
        specs.append(m.source_condition.script)
    if m.correlation and m.correlation.script:
        specs.append(m.correlation.script)
    if m.correlation and m.correlation.ids_script:
        specs.append(m.correlation.ids_script)
    specs.extend(s for s in (m.on_recon, m.result) if s is not None)
    for p in m.properties:
        specs.extend([p.transform, p.condition.script if p.condition else None])
    for policies in m.policies.values():
        for pol in policies:
            specs.extend([pol.action_script, pol.post_action, pol.condition.script if pol.condition else None])
    return [s for s in specs if s is not None]


def _display_path(path: Path) -> str:
    parts = path.parts
    return str(Path(*parts[-2:])) if len(parts) >= 2 else str(path)


class _Parser:
    def __init__(self, path: str, base_dir: Path | None) -> None:
        self.path = path
        self.base_dir = base_dir

    def fail(self, field_path: str, message: str) -> ConfigError:
        return ConfigError(message, path=self.path, field=field_path)

    def script(self, value: Any, field_path: str, name: str) -> ScriptSpec:
        return ScriptSpec.parse(value, name=name, path=self.path, field_path=field_path, base_dir=self.base_dir)

    def condition(self, value: Any, field_path: str, name: str) -> Condition:
        if isinstance(value, str):
            try:
                return Condition(name=name, tree=filters.parse(value))
            except filters.FilterError as exc:
                raise self.fail(field_path, filters.describe(exc)) from None
        return Condition(name=name, script=self.script(value, field_path, name))

    def mapping(self, raw: Any, i: int) -> Mapping:
        at = f"mappings[{i}]"
        if not isinstance(raw, MappingABC):
            raise self.fail(at, "expected a mapping object")
        for key in ("name", "source", "target"):
            if not isinstance(raw.get(key), str) or not raw[key]:
                raise self.fail(f"{at}.{key}", "required (a non-empty string)")
        name = raw["name"]

        def opt_script(key: str) -> ScriptSpec | None:
            return self.script(raw[key], f"{at}.{key}", f"{name}.{key}") if raw.get(key) is not None else None

        def flag(key: str, default: bool) -> bool:
            value = raw.get(key, default)
            if not isinstance(value, bool):
                raise self.fail(f"{at}.{key}", "must be true or false")
            return value

        props = raw.get("properties", [])
        if not isinstance(props, list):
            raise self.fail(f"{at}.properties", "must be a list")
        policies_raw = raw.get("policies", [])
        if not isinstance(policies_raw, list):
            raise self.fail(f"{at}.policies", "must be a list")
        policies: dict[Situation, list[Policy]] = {}
        for j, p in enumerate(policies_raw):
            pol = self.policy(p, f"{at}.policies[{j}]", name)
            policies.setdefault(pol.situation, []).append(pol)
        links = raw.get("links")
        if links is not None and not isinstance(links, str):
            raise self.fail(f"{at}.links", "must be a mapping name")
        check_keys(raw, self.fail, at, name)
        correlation = self.correlation(raw.get("correlationQuery"), f"{at}.correlationQuery", name)
        if raw.get("correlationScript") is not None:
            if correlation is not None:
                raise self.fail(f"{at}.correlationScript", f"mapping {name}: correlationQuery and correlationScript "
                                "cannot both be set (IDM refuses it too)")
            correlation = Correlation(ids_script=opt_script("correlationScript"))
        return Mapping(
            name=name, source=raw["source"], target=raw["target"], index=i, raw=dict(raw),
            display_name=raw.get("displayName"), links=links,
            properties=[self.prop(p, f"{at}.properties[{j}]", name) for j, p in enumerate(props)],
            policies=policies,
            valid_source=opt_script("validSource"), valid_target=opt_script("validTarget"),
            source_condition=(self.condition(raw["sourceCondition"], f"{at}.sourceCondition", f"{name}.sourceCondition")
                              if raw.get("sourceCondition") is not None else None),
            correlation=correlation,
            on_create=opt_script("onCreate"), on_update=opt_script("onUpdate"), on_delete=opt_script("onDelete"),
            on_link=opt_script("onLink"), on_unlink=opt_script("onUnlink"), on_recon=opt_script("onRecon"),
            result=opt_script("result"),
            enable_sync=flag("enableSync", True), run_target_phase=flag("runTargetPhase", True),
            allow_empty_source_set=flag("allowEmptySourceSet", False),
            correlate_empty_target_set=flag("correlateEmptyTargetSet", False),
            clustered=flag("clusteredSourceReconEnabled", False),
        )

    def prop(self, raw: Any, at: str, name: str) -> PropertyMapping:
        if not isinstance(raw, MappingABC):
            raise self.fail(at, "expected a property mapping object")
        target = raw.get("target")
        if not isinstance(target, str) or not target.strip("/"):
            raise self.fail(f"{at}.target", "required (the target attribute)")
        source = raw.get("source")
        if source is not None and not isinstance(source, str):
            raise self.fail(f"{at}.source", "must be a string")
        label = f"{name}.properties.{target}"
        return PropertyMapping(
            target=target, source=source,
            transform=self.script(raw["transform"], f"{at}.transform", f"{label}.transform") if raw.get("transform") else None,
            default=raw.get("default"), has_default="default" in raw,
            condition=self.condition(raw["condition"], f"{at}.condition", f"{label}.condition") if raw.get("condition") else None,
        )

    def policy(self, raw: Any, at: str, name: str) -> Policy:
        if not isinstance(raw, MappingABC):
            raise self.fail(at, "expected a policy object")
        try:
            situation = Situation(str(raw.get("situation", "")).upper())
        except ValueError:
            raise self.fail(f"{at}.situation", f"unknown situation {raw.get('situation')!r} "
                            f"(one of {', '.join(s.value for s in Situation)})") from None
        label = f"{name}.policies.{situation.value}"
        action_raw = raw.get("action")
        action, action_script = None, None
        if isinstance(action_raw, str):
            try:
                action = parse_action(action_raw)
            except ValueError as exc:
                raise self.fail(f"{at}.action", str(exc)) from None
        elif isinstance(action_raw, MappingABC):
            action_script = self.script(action_raw, f"{at}.action", f"{label}.action")
        else:
            raise self.fail(f"{at}.action", "required (an action name or a script)")
        return Policy(
            situation=situation, action=action, action_script=action_script,
            condition=self.condition(raw["condition"], f"{at}.condition", f"{label}.condition") if raw.get("condition") else None,
            post_action=self.script(raw["postAction"], f"{at}.postAction", f"{label}.postAction") if raw.get("postAction") else None,
        )

    def correlation(self, raw: Any, at: str, name: str) -> Correlation | None:
        if raw is None:
            return None
        if isinstance(raw, list):  # one per linkQualifier: we use the "default" qualifier's
            chosen = [c for c in raw if isinstance(c, MappingABC) and c.get("linkQualifier", "default") == "default"]
            if not chosen:
                raise self.fail(at, "no correlation query for linkQualifier \"default\"")
            return self.correlation(chosen[0], f"{at}[{raw.index(chosen[0])}]", name)
        if isinstance(raw, str):
            return Correlation(template=self._template(raw, at))
        if not isinstance(raw, MappingABC):
            raise self.fail(at, "expected a query filter, a script or an expression tree")
        if "expressionTree" in raw:
            tree = raw["expressionTree"]
            if not isinstance(tree, MappingABC) or not ({"any", "all"} & set(tree)):
                raise self.fail(f"{at}.expressionTree", "expected {\"all\": [fields]} or {\"any\": [fields]}")
            key = "all" if "all" in tree else "any"
            fields = tree[key]
            if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields) or not fields:
                raise self.fail(f"{at}.expressionTree.{key}", "expected a list of target attribute names")
            return Correlation(tree_fields=tuple(fields), tree_any=key == "any")
        if "_queryFilter" in raw and "source" not in raw and "file" not in raw:
            return Correlation(template=self._template(raw["_queryFilter"], f"{at}._queryFilter"))
        return Correlation(script=self.script(raw, at, f"{name}.correlationQuery"))

    def _template(self, text: Any, at: str) -> str:
        if not isinstance(text, str):
            raise self.fail(at, "must be a query filter string")
        probe = filters.skeleton(text)
        try:
            filters.parse(probe)
        except filters.FilterError as exc:
            raise self.fail(at, filters.describe(exc)) from None
        return text
