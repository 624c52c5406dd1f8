"""Where a project's files live, as IDM's ``startup.sh -p DIR`` lays them out."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ENV = "SFSYNC_PROJECT"


@dataclass(frozen=True)
class Project:
    """A project folder: ``conf/`` (IDM's files plus ``sfsync.toml``) and ``db/`` (the state sfsync keeps)."""

    root: Path

    @classmethod
    def resolve(cls, arg: str | os.PathLike[str] | None = None) -> Project:
        """The project named by ``-p/--project``, else ``$SFSYNC_PROJECT``, else the current directory."""
        chosen = arg or os.environ.get(PROJECT_ENV) or os.getcwd()
        return cls(Path(chosen).expanduser().resolve())

    @property
    def conf_dir(self) -> Path:
        return self.root / "conf"

    @property
    def db_dir(self) -> Path:
        return self.root / "db"

    @property
    def provisioner_path(self) -> Path:
        return self.conf_dir / "provisioner.openicf-salesforce.json"

    @property
    def sync_path(self) -> Path:
        return self.conf_dir / "sync.json"

    @property
    def managed_path(self) -> Path:
        return self.conf_dir / "managed.json"

    @property
    def settings_path(self) -> Path:
        return self.conf_dir / "sfsync.toml"

    @property
    def db_path(self) -> Path:
        return self.db_dir / "sfsync.sqlite3"
