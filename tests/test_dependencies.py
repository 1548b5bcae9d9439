"""Dependencies that fit into a user's project (issue 23 #6).

The bounds in pyproject.toml are tested at both ends: `tox -e mindeps` installs the lowest version each
allows (.ci/mindeps.txt, kept in step with pyproject.toml here) and `tox -e newest` the newest. An upper
bound is only where tokenmock relies on names another project does not document; the checks below say
which names, so a release that drops one fails here with its name instead of somewhere deep in a worker.
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
# The dependencies with an upper bound, each for names it does not document that tokenmock uses.
UPPER_BOUNDED = {"gunicorn", "schemathesis"}


def requirements(extra: str = "test") -> list[Requirement]:
    """The direct dependencies an install of `tokenmock[extra]` brings (the extras it names included)."""
    found = [Requirement(line) for line in PROJECT["dependencies"]]
    for line in PROJECT["optional-dependencies"][extra]:
        requirement = Requirement(line)
        if requirement.name == PROJECT["name"]:
            for named in sorted(requirement.extras):
                found += [r for r in requirements(named) if r not in found]
        elif requirement not in found:
            found.append(requirement)
    return found


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.strip().lower())


def lower_bound(requirement: Requirement) -> str:
    (found,) = [spec.version for spec in requirement.specifier if spec.operator == ">="]
    return found


def test_mindeps_pins_every_direct_dependency_at_its_lower_bound() -> None:
    pinned = {}
    for line in (ROOT / ".ci" / "mindeps.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pinned[canonical(name)] = Version(version.strip())
    wanted = {canonical(r.name): Version(lower_bound(r)) for r in requirements()}
    assert pinned == wanted


def test_only_dependencies_used_beyond_their_documented_api_have_an_upper_bound() -> None:
    bounded = {r.name for r in requirements() if any(s.operator in ("<", "<=", "==", "~=") for s in r.specifier)}
    assert bounded == UPPER_BOUNDED
    pytest_requirement = next(r for r in requirements() if r.name == "pytest")
    assert pytest_requirement.specifier.contains("9.2.0")  # the plugin works with pytest 9.2


def test_tox_runs_both_ends() -> None:
    tox = (ROOT / "tox.ini").read_text(encoding="utf-8")
    assert "[testenv:mindeps]" in tox and "-c {toxinidir}/.ci/mindeps.txt" in tox
    assert "[testenv:newest]" in tox and "--upgrade-strategy eager" in tox


def test_the_documented_bounds_are_the_declared_ones() -> None:
    from tests.documentation import table

    documented = {}
    for row in table("| package | bounds | why |").splitlines()[2:]:
        names, bounds = (cell.strip() for cell in row.strip("|").split("|")[:2])
        for name, bound in zip(names.split(" (")[0].split(", "), bounds.split(", >="), strict=True):
            documented[canonical(Requirement(name).name)] = SpecifierSet(bound if bound[0] in "<>=" else ">=" + bound)
    declared = {canonical(r.name): r.specifier for extra in ("test", "docs", "containers") for r in requirements(extra)}
    assert documented == declared


def test_the_gunicorn_names_the_worker_relies_on_exist() -> None:
    from gunicorn.http import wsgi
    from gunicorn.http.unreader import Unreader
    from gunicorn.workers import gthread

    assert hasattr(gthread, "_DEFER")  # handle(): "not whole yet, back to the poller"
    for name in ("handle", "finish_request", "murder_pending", "set_accept_enabled", "accept", "init_process"):
        assert callable(getattr(gthread.ThreadWorker, name, None)), name
    assert callable(getattr(gthread.TConn, "init", None))

    class Probe(Unreader):
        def chunk(self) -> bytes:
            return b""

    assert Probe().buf.getvalue() == b""  # the parser's buffer the worker reads ahead into
    # OneWriteResponse.write leaves responses without a body (HEAD, 204, 304) to gunicorn's own code.
    assert "self._omits_body" in inspect.getsource(wsgi.Response.__init__)


def test_the_schemathesis_names_contract_runs_rely_on_exist() -> None:
    from schemathesis.engine import Status, events, from_schema
    from schemathesis.transport.wsgi import WSGITransport

    assert callable(from_schema) and Status.FAILURE
    for name in ("ScenarioFinished", "PhaseStarted", "PhaseFinished", "NonFatalError", "FatalError"):
        assert isinstance(getattr(events, name), type), name
    assert callable(WSGITransport.send)


def test_reproducible_draws_follow_the_installed_hypothesis() -> None:
    import hypothesis

    from tokenmock.contracts import reproducible

    # The lowest Hypothesis allowed (6.131.9) has the switch; a release without it makes this fail by name.
    assert reproducible._supported(), f"hypothesis {hypothesis.__version__} has no switch for local constants"


def test_create_app_works_from_the_folder_holding_a_checkout(tmp_path: Path) -> None:
    """From the parent of a checkout named `tokenmock`, an editable install's `tokenmock` becomes that
    checkout as a namespace package (the current directory comes first); the app is still built."""
    (tmp_path / "tokenmock").symlink_to(ROOT, target_is_directory=True)
    probe = (
        "from tokenmock.mockserver import create_app\n"
        "from tokenmock.client import ClickViewClient\n"
        "http = create_app({}).test_client()\n"
        "print(http.get('/').status_code, http.get('/__mock/ui').status_code)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["200", "200"]
