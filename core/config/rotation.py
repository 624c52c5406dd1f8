"""``sfsync secrets rotate-key``: a new key for the project's secrets at rest, every secret sealed again.

The order keeps a secret readable at every moment: the new key is written beside the old one
(``security/sfsync-<id>.key``), the provisioner file is rewritten with every secret sealed by it (atomically),
read back, and only then does the new key replace the old one, which is gone from then on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.config.jsonfile import display_path
from core.config.provisioner import ProvisionerConfig
from core.config.secrets import KeyStore

if TYPE_CHECKING:
    from core.config.project import Project

__all__ = ["Rotation", "rotate_key"]


@dataclass(frozen=True)
class Rotation:
    """What a rotation did (key ids and field names only, never a secret)."""

    old_id: str | None
    new_id: str
    fields: tuple[str, ...]
    config_path: str
    key_path: str
    discarded: tuple[str, ...] = ()


def rotate_key(project: Project) -> Rotation:
    """Rotate the project's key; a secret that cannot be decrypted now stops it before anything changes."""
    path = project.provisioner_path
    store = KeyStore.for_config(path)
    config = ProvisionerConfig.load(project)  # strict: every secret must open with the keys we have
    old = store.current()
    props = config.properties
    fields = tuple(name for name, value in (("clientSecret", props.client_secret),
                                            ("refreshToken", props.refresh_token)) if value)
    new = store.stage()
    try:
        config.save(project, rekey=new)
    except BaseException:
        store.unstage(new)  # the file was not written: nothing needs the new key
        raise
    ProvisionerConfig.load(project)  # read back with the staged key before the old one goes (kept if not)
    store.promote(new)
    discarded = tuple(store.discard_staged())
    return Rotation(old_id=old.stable_id if old else None, new_id=new.stable_id, fields=fields,
                    config_path=display_path(path), key_path=display_path(store.path), discarded=discarded)
