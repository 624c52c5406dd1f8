"""The project folder and the IDM-format configuration files in its ``conf/``."""

from core.config.masking import mask_secret
from core.config.project import Project
from core.config.provisioner import ConfigurationProperties, ProvisionerConfig
from core.config.settings import Settings
from core.config.urls import LoginUrlKind, kind_of, login_url_for

__all__ = [
    "ConfigurationProperties",
    "LoginUrlKind",
    "Project",
    "ProvisionerConfig",
    "Settings",
    "kind_of",
    "login_url_for",
    "mask_secret",
]
