"""core/ must stay free of Textual and Rich: importing every core module pulls in neither; the front ends reach
the core packages only through their public APIs (``__all__``)."""

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


#: the front ends, and the core package each is part of (its own modules it may import directly)
FRONT_ENDS = {"tui": None, "core/api": "core.api"}
#: core modules that are not packages (nothing inside them to reach past)
CORE_MODULES = {"core.errors", "core.listen"}


def api_violations(source: str, own: str | None) -> list[str]:
    """Imports in ``source`` that reach past a core package's ``__init__`` or name what its ``__all__`` leaves out."""
    import ast
    import importlib

    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
            names: list[tuple[str, str]] = []
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules, names = [node.module], [(node.module, a.name) for a in node.names]
        else:
            continue
        for module in modules:
            parts = module.split(".")
            if parts[0] != "core" or len(parts) < 2 or ".".join(parts[:2]) in CORE_MODULES:
                continue
            package = ".".join(parts[:2])
            if package == own:
                continue
            if len(parts) > 2:
                found.append(f"line {node.lineno}: {module} (import from {package})")
                continue
            public = set(importlib.import_module(package).__all__)
            found += [f"line {node.lineno}: {package}.{name} is not in its __all__"
                      for mod, name in names if mod == module and name not in public]
    return found


def test_the_front_end_check_finds_a_deep_import():
    assert api_violations("from core.sync.recon import ReconEngine\n", None) == [
        "line 1: core.sync.recon (import from core.sync)"]
    assert api_violations("def f():\n    import core.repo.db\n", None) == ["line 2: core.repo.db (import from core.repo)"]
    assert api_violations("from core.repo import _private_thing\n", None) == [
        "line 1: core.repo._private_thing is not in its __all__"]
    assert api_violations("from core.api.routes import ROUTES\nfrom core.sync import SyncService\n", "core.api") == []


def test_front_ends_import_core_only_through_package_apis():
    """tui/ and core/api (a front end too) import another core package's names from its ``__init__``."""
    bad = []
    for folder, own in FRONT_ENDS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            bad += [f"{path.relative_to(ROOT)}: {v}" for v in api_violations(path.read_text(encoding="utf-8"), own)]
    assert bad == []
