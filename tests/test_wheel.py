"""The wheel as a user gets it: one import name, and a user project whose own modules are called
`client`, `contracts`, `mockserver` and `openapi` runs its pytest with the tokenmock plugin loaded.

The wheel is built from a copy of the sources (no `build/` or egg-info left in the checkout). The fresh
venv gets no pip and no network: the wheel goes in with the running pip (`pip --python`, `--no-deps
--no-index`), and the dependencies come from the running environment, linked one by one into a
directory that the venv adds as a site directory, every `tokenmock` entry left out (the running
environment has tokenmock installed: editable here, a wheel under tox). So the test needs no index and
no cache on a fresh CI machine, takes seconds, and what the user project imports as `tokenmock` can only
be the wheel's.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# What pyproject's package-dir maps into the wheel, plus what the metadata reads.
SOURCES = ("pyproject.toml", "README.md", "src", "client", "contracts", "mockserver", "openapi")
TIMEOUT = 600  # seconds: a safety stop for a hung build or run, far above the seconds they take


def _setuptools_can_build() -> bool:
    """True when the running environment's setuptools reads this pyproject (PEP 639 `license`: 77+)."""
    try:
        major = int(importlib.metadata.version("setuptools").split(".")[0])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return False
    return major >= 77


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert result.returncode == 0, f"{' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tokenmock's wheel, built by pip from a copy of the sources."""
    source = tmp_path_factory.mktemp("source")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=ignore)
        else:
            shutil.copy2(path, source / name)
    out = tmp_path_factory.mktemp("wheelhouse")
    args = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out), str(source)]
    if _setuptools_can_build():
        # Offline: the running environment's setuptools builds it. Otherwise pip fetches the backend
        # pyproject asks for into an isolated build env (as tox does to build the package).
        args.insert(-1, "--no-build-isolation")
    _run(args, cwd=source)
    (built,) = out.glob("tokenmock-*.whl")
    return built


def _dependency_dir(target: Path) -> Path:
    """Every entry of the running environment's site-packages but tokenmock's, linked into `target`."""
    target.mkdir()
    directories = dict.fromkeys(
        Path(p) for p in (sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *site.getsitepackages())
    )
    for directory in directories:
        if not directory.is_dir():
            continue
        for entry in directory.iterdir():
            if "tokenmock" in entry.name.lower() or entry.name == "__pycache__":
                continue
            link = target / entry.name
            if not link.exists():
                link.symlink_to(entry, target_is_directory=entry.is_dir())
    return target


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """A new venv with the wheel installed and the dependencies taken from the running environment."""
    home = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=False, symlinks=True).create(home / "env")
    python = home / "env" / "bin" / "python"
    purelib = _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=home
    ).stdout.strip()
    deps = _dependency_dir(home / "deps")
    # A .pth line that starts with `import` is executed: the dependencies become a site directory, so
    # their own .pth files are processed as in the environment they come from.
    Path(purelib, "zz_tokenmock_test_deps.pth").write_text(f"import site; site.addsitedir({str(deps)!r})\n")
    _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "--quiet",
         str(wheel)],
        cwd=home,
    )
    return python


USER_MODULES = {
    # Each is what an unrelated project might well have; tokenmock must shadow none of them.
    "client.py": 'OWNER = "user"\n\n\nclass ClickViewClient:\n    """The user\'s own client."""\n',
    "contracts.py": 'OWNER = "user"\nstrategies = "the user\'s own strategies"\n',
    "mockserver.py": 'OWNER = "user"\n',
    "openapi.py": 'OWNER = "user"\n',
}

USER_TEST = '''
from pathlib import Path

import client
import contracts
import mockserver
import openapi
import tokenmock
from tokenmock.client import ClickViewClient

HERE = Path(__file__).resolve().parent


def test_the_project_imports_its_own_modules():
    for module in (client, contracts, mockserver, openapi):
        assert module.OWNER == "user"
        assert Path(module.__file__).resolve().parent == HERE
    assert contracts.strategies == "the user's own strategies"
    assert client.ClickViewClient is not ClickViewClient


def test_tokenmock_is_the_installed_wheel():
    assert "site-packages" in Path(tokenmock.__file__).parts


def test_a_tokenmock_fixture_serves_a_token(tokenmock_server):
    demo = tokenmock_server.demo("clickview")
    clickview = ClickViewClient(demo["client_id"], demo["client_secret"], base_url=tokenmock_server.url + "/clickview")
    assert clickview.token().access_token
    assert [r["status"] for r in tokenmock_server.requests(vendor="clickview")] == [200]
'''


@pytest.fixture(scope="module")
def user_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("user-project")
    for name, text in USER_MODULES.items():
        (project / name).write_text(text)
    (project / "test_project.py").write_text(textwrap.dedent(USER_TEST))
    (project / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    return project


def _user_pytest(python: Path, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The user project's pytest in the fresh venv, in the caller's environment without what would leak
    this checkout or its settings into the project."""
    drop = {"PYTHONPATH", "PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD", "VIRTUAL_ENV"}
    return subprocess.run(
        [str(python), "-m", "pytest", *args],
        cwd=project,
        env={k: v for k, v in os.environ.items() if k not in drop},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def test_the_wheel_installs_one_top_level_name(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    top = {name.split("/", 1)[0] for name in names}
    assert top == {"tokenmock", wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1] + ".dist-info"}
    # The mapped folders and the contracts (package data) are in it.
    for expected in ("tokenmock/client/__init__.py", "tokenmock/contracts/__init__.py",
                     "tokenmock/mockserver/__init__.py", "tokenmock/openapi/clickview.yaml",
                     "tokenmock/pytest_plugin.py", "tokenmock/testing/__init__.py"):
        assert expected in names


def test_a_user_project_runs_its_pytest_with_the_plugin(fresh_venv: Path, user_project: Path) -> None:
    result = _user_pytest(fresh_venv, user_project, "-q", "-W", "error")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout, result.stdout


def test_the_fixtures_docstrings_show_in_pytest_fixtures(fresh_venv: Path, user_project: Path) -> None:
    result = _user_pytest(fresh_venv, user_project, "--fixtures", "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for name in ("tokenmock_server", "tokenmock_port", "tokenmock_settings", "tokenmock_app", "tokenmock_replay",
                 "tokenmock_in_process", "tokenmock_hosts"):
        (at,) = [i for i, line in enumerate(lines) if line.startswith(f"{name} ") and "site-packages" in line]
        assert lines[at + 1].strip() and "no docstring available" not in lines[at + 1], f"{name} is undocumented"


def test_every_shipped_folder_is_a_listed_package() -> None:
    """setuptools warns ("Package would be ignored") about a folder it ships that `packages` does not list:
    every folder under the package-dir roots that holds files is listed (data-only ones included)."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    listed = set(config["packages"])
    shipped = set()
    for package, folder in config["package-dir"].items():
        for path in [ROOT / folder, *(ROOT / folder).rglob("*")]:
            if path.is_dir() and path.name != "__pycache__" and any(p.is_file() for p in path.iterdir()):
                relative = path.relative_to(ROOT / folder).parts
                shipped.add(".".join((package, *relative)))
    assert shipped - listed == set()
