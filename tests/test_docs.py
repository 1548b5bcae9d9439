"""The documentation is checked (the README front page and every page of the MkDocs site in docs/): its
Python examples run, its shell examples are valid shell, its sample output is what the command shown
prints, its configuration examples load, and its counts are the code's.

Written over every block of a kind on every page, so pages and sections added later are covered too:

- every ```python block runs against a live mock (`http://127.0.0.1:8080` becomes its URL), unless an
  HTML comment on the line before marks it `<!-- readme-test: file NAME -->`: such blocks are the files
  of one user project (tests, conftest.py), run by pytest with the tokenmock plugin as a user gets it;
- every ```sh, ```bash and ```shell block (and every `$ ` line of a ```console block) passes `bash -n`,
  and none runs a command whose name looks like a variable assignment (`DIVE-01=strict cmd`);
- every ```toml block is a configuration that `load_settings` accepts, with chaos off.
"""

from __future__ import annotations

import ast
import configparser
import re
import shlex
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from flask import Flask

from tests.conftest import LiveServer
from tests.documentation import PAGES, ROOT, TEXT, section, table
from tests.inner_pytest import run_pytest
from tests.system import require
from tokenmock.cli import main
from tokenmock.mockserver import create_app
from tokenmock.mockserver.config import load_settings
from tokenmock.mockserver.cors import allowed_origins

README = PAGES["README.md"]
DEFAULT_ROOT = "http://127.0.0.1:8080"
# Blocks that need `tokenmock serve --tls` run in tests/e2e/test_tls.py, against one.
TLS_ROOT = "https://localhost:8080"
# Blocks that start the container image run in tests/container/test_testcontainers.py, on podman.
CONTAINER = "TokenmockContainer("


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


# A fenced block, with the `<!-- readme-test: ... -->` mark of the line before it, if any.
_BLOCK = re.compile(
    r"(?:<!--\s*readme-test:\s*(?P<mark>[^>]*?)\s*-->[ \t]*\n)?^```(?P<lang>[\w+-]*)[ \t]*\n(?P<code>.*?)^```",
    re.S | re.M,
)
BLOCKS = [(m["lang"], (m["mark"] or "").strip(), m["code"]) for text in PAGES.values() for m in _BLOCK.finditer(text)]
PYTHON_BLOCKS = [
    code
    for lang, mark, code in BLOCKS
    if lang == "python" and not mark and TLS_ROOT not in code and CONTAINER not in code
]
PROJECT_FILES = {
    mark.removeprefix("file ").strip(): code
    for lang, mark, code in BLOCKS
    if lang == "python" and mark.startswith("file ")
}
SHELL_LANGS = ("sh", "bash", "shell")
SHELL_BLOCKS = [code for lang, _, code in BLOCKS if lang in SHELL_LANGS] + [
    "\n".join(line[2:] for line in code.splitlines() if line.startswith("$ "))
    for lang, _, code in BLOCKS
    if lang == "console"
]
TOML_BLOCKS = [code for lang, _, code in BLOCKS if lang == "toml"]


def test_every_block_mark_is_understood() -> None:
    marks = [mark for _, mark, _ in BLOCKS if mark]
    assert all(mark.startswith("file ") and mark.removeprefix("file ").strip() for mark in marks), marks
    assert len(PROJECT_FILES) == len(marks), "two marked blocks name the same file"


@pytest.fixture
def live(serve: Callable[[Flask], LiveServer]) -> LiveServer:
    """The mock as a user runs it: real time (examples verify `exp` with their own libraries)."""
    return serve(create_app({"validate_responses": True, "access_log": False}))


def test_the_readme_has_an_example_per_vendor() -> None:
    joined = "\n".join(PYTHON_BLOCKS)
    for name in ("JunctionTVClient", "ClickViewClient", "Vision10Client", "DiveTVClient", "AminoTVClient"):
        assert name in joined


@pytest.mark.parametrize("index", range(len(PYTHON_BLOCKS)))
def test_readme_python_example_runs(index: int, live: LiveServer, tmp_path: Path) -> None:
    code = PYTHON_BLOCKS[index].replace(DEFAULT_ROOT, live.url).replace("/tmp/", f"{tmp_path}/")
    exec(compile(code, f"documentation python block {index}", "exec"), {})


def test_readme_promises_the_two_commands() -> None:
    for page in ("README.md", "docs/index.md"):
        assert "pip install -e . && tokenmock serve" in PAGES[page], page
        assert "pip install tox && tox" in PAGES[page], page


def test_readme_admin_curls_name_documented_admin_paths() -> None:
    from tokenmock import contracts
    admin = contracts.loader.read_yaml("admin.yaml")
    paths = set(admin["paths"])
    used = set(re.findall(r"127\.0\.0\.1:8080/__mock(/[a-z][a-z./]*[a-z])", TEXT))
    assert used and used <= paths


def test_token_command_prints_a_token(live: LiveServer) -> None:
    result = CliRunner().invoke(
        main,
        ["token", "clickview", "--base-url", f"{live.url}/clickview", "--client-id", "demo-client"],
        env={"TOKENMOCK_CLIENT_SECRET": "demo-secret"},
    )
    assert result.exit_code == 0, result.output
    assert '"access_token"' in result.output and '"scope": "smartembed.viewkey"' in result.output


def test_token_command_says_what_is_missing(live: LiveServer) -> None:
    result = CliRunner().invoke(main, ["token", "divetv", "--base-url", f"{live.url}/divetv"], env={})
    assert result.exit_code == 2
    assert "--client-key" in result.output and "--username" in result.output


def test_token_command_reports_refusal_without_traceback(live: LiveServer) -> None:
    result = CliRunner().invoke(
        main,
        [
            "token",
            "vision10",
            "--base-url",
            f"{live.url}/vision10",
            "--client-id",
            "x",
            "--client-secret",
            "wrong-s3cret",
        ],
    )
    assert result.exit_code == 1
    assert "240101" in result.output and "Traceback" not in result.output
    assert "wrong-s3cret" not in result.output


# The user project of the pytest-plugin section.


def test_the_readme_pytest_project_passes(tmp_path: Path) -> None:
    assert "conftest.py" in PROJECT_FILES and any(name.startswith("test_") for name in PROJECT_FILES)
    tests = 0
    for name, code in PROJECT_FILES.items():
        (tmp_path / name).write_text(code, encoding="utf-8")
        body = ast.parse(code).body
        tests += sum(isinstance(node, ast.FunctionDef) and node.name.startswith("test") for node in body)
    result = run_pytest(tmp_path, "-q", "-W", "error")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{tests} passed" in result.stdout, result.stdout


def test_the_readme_names_the_plugin_options_it_has(tmp_path: Path) -> None:
    shown = run_pytest(tmp_path, "--help").stdout
    for option in re.findall(r"pytest (--tokenmock-[a-z-]+)", TEXT):
        assert option in shown, option
    for block in (code for lang, _, code in BLOCKS if lang == "ini"):
        parser = configparser.ConfigParser()
        parser.read_string(block)
        for key in parser["pytest"] if parser.has_section("pytest") else ():
            assert f"{key} (" in shown, f"ini option {key} is not the plugin's"


# Shell examples.


def _commands(code: str) -> list[list[str]]:
    """The simple commands of a shell snippet, as words (continuations joined, comments dropped)."""
    lexer = shlex.shlex(code.replace("\\\n", " "), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    commands: list[list[str]] = [[]]
    for word in lexer:
        if word in ("|", "||", "&&", ";", "&", ";;", "(", ")") or "\n" in word:
            commands.append([])
        else:
            commands[-1].append(word)
    return [c for c in commands if c]


_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


@pytest.mark.parametrize("index", range(len(SHELL_BLOCKS)))
def test_readme_shell_block_is_valid_shell(index: int) -> None:
    code = SHELL_BLOCKS[index]
    checked = subprocess.run(["bash", "-n"], input=code, capture_output=True, text=True, timeout=30, check=False)
    assert checked.returncode == 0, f"documentation shell block {index} is not valid bash:\n{checked.stderr}\n{code}"
    for line in code.splitlines():
        # bash reads `A-B=x cmd` as running a command named `A-B=x`: env names have no '-'.
        first = line.strip().split(" ", 1)[0]
        if "=" in first and not first.startswith(("'", '"', "-")) and not _ASSIGNMENT.match(first):
            pytest.fail(f"shell block {index}: {first!r} is no assignment (use env 'NAME=value' cmd):\n{line}")


def test_the_shell_check_catches_what_bash_n_lets_through() -> None:
    bad = "TOKENMOCK__READINGS__DIVE-01=strict tokenmock serve\n"
    assert subprocess.run(["bash", "-n"], input=bad, capture_output=True, text=True, check=False).returncode == 0
    first = bad.split(" ", 1)[0]
    assert "=" in first and not _ASSIGNMENT.match(first)


def _env_assignments(command: list[str]) -> dict[str, str]:
    """`NAME=value` words before the command (or after `env`)."""
    words = command[1:] if command[:1] == ["env"] else command
    found: dict[str, str] = {}
    for word in words:
        name, eq, value = word.partition("=")
        if not eq or name.startswith("-"):
            break
        found[name] = value
    return found


def _tokenmock_variables(command: list[str]) -> dict[str, str]:
    return {k: v for k, v in _env_assignments(command).items() if k.startswith("TOKENMOCK__")}


SERVE_ENVIRONMENTS = [
    env
    for code in SHELL_BLOCKS
    for command in _commands(code)
    if "tokenmock" in command and (env := _tokenmock_variables(command))
]


@pytest.mark.parametrize("environ", SERVE_ENVIRONMENTS, ids=lambda env: ",".join(env))
def test_readme_environment_overrides_load(environ: dict[str, str]) -> None:
    from tokenmock.mockserver.config import load_settings

    settings = load_settings(environ=environ)
    for name, raw in environ.items():
        node = settings
        parts = [p.lower() for p in name.removeprefix("TOKENMOCK__").split("__")]
        if parts[0] == "readings":
            parts[-1] = parts[-1].upper()
        for part in parts:
            node = node[part]
        assert node == yaml.safe_load(raw) or str(node) == raw, (name, node)


def test_the_readme_shows_an_environment_override() -> None:
    assert any(any("-" in name for name in env) for env in SERVE_ENVIRONMENTS)  # a discrepancy id, quoted


# Sample output.


def _chaos_block() -> str:
    (block,) = [code for code in SHELL_BLOCKS if code.startswith("tokenmock serve --chaos") and "| jq" in code]
    return block


def test_the_chaos_sample_output_is_what_the_commands_print(tmp_path: Path) -> None:
    from tests.reliability.serving import served

    require("curl", "jq")  # skipped locally without them, failed under CI (tests/system.py)

    serve_line, *script = _chaos_block().splitlines()
    expected = script.pop().removeprefix("# ")
    args = shlex.split(serve_line, comments=True)
    assert args[:2] == ["tokenmock", "serve"]
    with served(args[2:], tmp_path / "serve.log") as server:
        shell = "\n".join(script).replace(DEFAULT_ROOT, server.url)
        result = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


# The configuration example.


@pytest.mark.parametrize("index", range(len(TOML_BLOCKS)))
def test_readme_configuration_loads_and_leaves_chaos_off(index: int, tmp_path: Path) -> None:
    from tokenmock.mockserver.config import load_settings

    path = tmp_path / "mock.toml"
    path.write_text(TOML_BLOCKS[index], encoding="utf-8")
    settings = load_settings(path, environ={})
    assert settings["chaos"] is None
    assert settings != load_settings(None, environ={}), "the example changes nothing"


SURROUNDINGS = section("Around the token endpoint: JWKS, discovery, HTTPS, CORS, health")
SURROUNDING_SHELL = [b for b in blocks(SURROUNDINGS, "sh") if TLS_ROOT not in b and "tokenmock serve" not in b]


def test_every_surrounding_item_has_curl_and_python() -> None:
    for item in ("JWKS", "Discovery", "HTTPS", "CORS", "Health"):
        text = SURROUNDINGS.split(f"\n## {item}", 1)[1].split("\n## ", 1)[0]
        assert blocks(text, "sh") and blocks(text, "python"), item
        assert "curl" in "".join(blocks(text, "sh"))


@pytest.mark.parametrize("index", range(len(SURROUNDING_SHELL)))
def test_surrounding_shell_examples_run(index: int, live: LiveServer) -> None:
    require("curl")
    script = SURROUNDING_SHELL[index].replace(DEFAULT_ROOT, live.url)
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr  # every curl there has -f: an HTTP error fails it
    if "OPTIONS" in script:
        assert " 204 " in done.stdout and "Access-Control-Allow-Origin: http://localhost:3000" in done.stdout


def test_surrounding_settings_are_valid() -> None:
    (toml,) = blocks(SURROUNDINGS, "toml")
    settings = load_settings(tomllib.loads(toml), environ={})
    assert allowed_origins(settings["cors_origins"]) == {"http://localhost:3000"}
    assert settings["tls"]["enabled"] and settings["tls"]["hostnames"] == ["mock.ci.example"]
    environment = {"TOKENMOCK__CORS_ORIGINS": "http://localhost:3000,https://app.example"}
    assert allowed_origins(load_settings(environ=environment)["cors_origins"]) == {
        "http://localhost:3000",
        "https://app.example",
    }
    assert allowed_origins(load_settings(environ={"TOKENMOCK__CORS_ORIGINS": ""})["cors_origins"]) is None
    ca_dir = load_settings(environ={"TOKENMOCK__TLS__CA_DIR": "/var/lib/tokenmock/tls"})["tls"]["ca_dir"]
    assert ca_dir == "/var/lib/tokenmock/tls"


# Counts and names the documentation states.


def test_the_register_count_is_the_registers() -> None:
    from tokenmock import contracts

    entries = sum(len(contracts.register(vendor)) for vendor in contracts.vendors())
    (stated,) = re.findall(r"\((\d+) entries\)", TEXT)
    assert int(stated) == entries


def test_the_fault_table_lists_every_kind() -> None:
    from tokenmock.mockserver.controls.faults import KINDS

    rows = table("| kind | params |").splitlines()[2:]
    listed = {name for row in rows for name in re.findall(r"`([a-z_]+)`", row.split("|")[1])}
    assert listed == set(KINDS)


def test_the_demo_table_lists_every_vendor() -> None:
    from tokenmock import contracts

    rows = table("| vendor | base URL on the mock |").splitlines()[2:]
    assert [row.split("|")[1].strip() for row in rows] == list(contracts.vendors())
    assert f"{len(contracts.vendors())} vendor" in README.replace("five vendor", "5 vendor")


def test_the_readme_says_what_tox_runs() -> None:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "tox.ini")
    envlist = [env.strip() for env in parser["tox"]["envlist"].split(",")]
    (stated,) = re.findall(r"`tox` runs (.+?)\.\s", PAGES["docs/index.md"], re.S)
    assert re.findall(r"`([a-z]+)` \(", stated) == envlist
    assert "soak" not in envlist and "`tox -e soak`" in TEXT


def test_the_readme_states_the_soaks_numbers() -> None:
    from tests.reliability import test_soak

    text = " ".join(TEXT.split())  # a number may be split over two lines
    assert f"{test_soak.CLIENTS} concurrent clients" in text
    assert f"{test_soak.TOTAL:,} ".replace(",", " ") in text
    assert f"less than {test_soak.RSS_GROWTH_LIMIT_KIB // 1024} MB" in text
    assert f"after {test_soak.SAFETY_STOP / 60:g} minutes" in text


def test_the_fixture_table_is_the_plugins(tmp_path: Path) -> None:
    shown = run_pytest(tmp_path, "--fixtures").stdout
    scopes = {
        m["name"]: m["scope"] or "test"
        for m in re.finditer(r"^(?P<name>tokenmock_\w+)(?: \[(?P<scope>\w+) scope\])? -- ", shown, re.M)
    }
    rows = {m[1]: m[2] for m in re.finditer(r"^\| `(\w+)` \| (\w+) \|", table("| fixture | scope |"), re.M)}
    assert rows == scopes


# The site's shape: a short front page, every page in the nav, links that resolve, extras that are declared.


def test_the_front_page_is_short_and_leads_to_every_page() -> None:
    assert len(README.splitlines()) < 250
    linked = set(re.findall(r"\]\(docs/([\w-]+\.md)\)", README))
    assert linked == {name.removeprefix("docs/") for name in PAGES if name.startswith("docs/")}


def test_every_docs_page_is_in_the_nav() -> None:
    on_disk = {f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md")}
    assert on_disk == set(PAGES) - {"README.md"}


def test_relative_links_resolve() -> None:
    for name, text in PAGES.items():
        base = (ROOT / name).parent
        for target in re.findall(r"\]\((?!https?://|#)([^)#\s]+)", text):
            assert (base / target).exists(), f"{name} links to {target}, which does not exist"


def _imported_distributions(code: str) -> set[str]:
    from importlib.metadata import packages_distributions

    owners = packages_distributions()
    modules = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.add(node.module.split(".")[0])
    return {dist.lower() for module in modules for dist in owners.get(module, ())}


def _requirement_names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower() for r in requirements}


def test_examples_that_need_an_extra_package_say_so() -> None:
    """A reader who ran only `pip install -e .` is told which examples need `tokenmock[examples]`."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    core = _requirement_names(project["dependencies"]) | {"tokenmock"}
    examples = _requirement_names(project["optional-dependencies"]["examples"])
    for name, text in PAGES.items():
        for match in _BLOCK.finditer(text):
            if match["lang"] != "python" or match["mark"]:
                continue
            extra = {d for d in _imported_distributions(match["code"]) if d.replace("_", "-") not in core}
            if not extra:
                continue
            assert {d.replace("_", "-") for d in extra} <= examples, (name, extra)
            preceding = text[: match.start()].rsplit("\n#", 1)[-1]  # the text since the block's heading
            assert "tokenmock[examples]" in preceding, f"{name}: a block needs {sorted(extra)} and does not say so"
