"""core/ must stay free of Textual and Rich: importing every core module pulls in neither."""

import pkgutil
import subprocess
import sys
from pathlib import Path

import core

ROOT = Path(__file__).resolve().parents[1]


def core_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(core.__path__, prefix="core."))


def core_files() -> list[str]:
    """Every module under core/ by its file, whatever pkgutil makes of the folders."""
    names = []
    for path in (ROOT / "core").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return sorted(names)


def test_core_has_modules_to_check():
    assert "core.errors" in core_modules()


def test_the_check_covers_every_core_module():
    """A folder without __init__.py is skipped by pkgutil: its modules would never be checked."""
    assert [m for m in core_files() if m != "core"] == core_modules()


def test_every_core_package_declares_its_public_api():
    """Each core package names its public API in ``__all__``, and every name there resolves."""
    import importlib

    for folder in sorted(p for p in (ROOT / "core").iterdir() if p.is_dir() and any(p.glob("*.py"))):
        package = importlib.import_module(f"core.{folder.name}")
        names = getattr(package, "__all__", None)
        assert names, f"core.{folder.name} has no __all__"
        for name in names:
            assert getattr(package, name, None) is not None, f"core.{folder.name}.{name} does not resolve"


def test_importing_every_core_module_loads_no_ui_library():
    # httpx imports its optional command-line tool (which uses rich) when rich happens to be installed and
    # falls back quietly when it is not; refusing the UI libraries outright keeps that optional import
    # out while any import of them by core code still fails this test.
    code = (
        "import importlib, sys\n"
        "class NoUI:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('textual', 'rich'):\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, NoUI())\n"
        f"for name in {core_modules()!r}:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ImportError as exc:\n"
        "        print(f'{name} needs {exc}')\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"core imported UI libraries: {out.stdout.strip()}"
