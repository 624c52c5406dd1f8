"""The project folder and the IDM-format configuration files in its ``conf/``."""

from core.config.project import Project

__all__ = ["Project"]
