"""The control page (`/__mock/ui`) in a real headless Chromium, driven by selenium (issue 17).

Debian's `chromium` and `chromium-driver` (installed by .ci/run). The tests load the page, see a request they
made appear in the journal, expand it, arm a fault through the form and see it fire, and save a screenshot as
an artifact (in the test's tmp dir, and in $TOKENMOCK_ARTIFACTS when set).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from tests.conftest import LiveServer
from tests.system import require
from tokenmock.client import AuthenticationError, ClickViewClient

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1400,1500")
WAIT = 20  # seconds any one thing may take to show on the page before the test says what did not


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    require("chromium", "chromedriver")  # .ci/run installs them: in CI the page must be tested, not skipped
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # selenium must not fetch a driver of its own
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the page's console, for its errors
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


@pytest.fixture
def page(make_app: Callable[..., Flask]) -> Iterator[Callable[..., LiveServer]]:
    servers: list[LiveServer] = []

    def start(**settings: Any) -> LiveServer:
        servers.append(LiveServer(make_app(**settings)))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def until(driver: Any, condition: Callable[[Any], Any], what: str) -> Any:
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:  # the page redraws its tables as the journal grows: an element may go stale between two looks
        wait = WebDriverWait(driver, WAIT, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,))
        return wait.until(condition)
    except TimeoutException:
        status = driver.find_element("id", "status-line").text
        raise AssertionError(f"the page did not show {what} within {WAIT} s (its status line: {status!r})") from None


def journal_rows(driver: Any) -> list[list[str]]:
    """The journal table's cells, read in one go (the page redraws it as entries come)."""
    rows: list[list[str]] = driver.execute_script(
        "return [...document.querySelectorAll('#journal-body tr.entry')].map(r => [...r.cells].map(c => c.textContent))"
    )
    return rows


def click(driver: Any, selector: str) -> bool:
    driver.find_element("css selector", selector).click()
    return True


def save_artifact(driver: Any, tmp_path: Path, name: str, section: str | None = None) -> Path:
    """A screenshot of the page's top, or of one section of it."""
    shot = tmp_path / name
    if section is None:
        driver.execute_script("window.scrollTo(0, 0)")
    else:
        driver.execute_script("document.getElementById(arguments[0]).scrollIntoView()", section)
    assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    if os.environ.get("TOKENMOCK_ARTIFACTS"):
        target = Path(os.environ["TOKENMOCK_ARTIFACTS"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, target / name)
    return shot


def test_the_page_shows_a_request_and_arms_a_fault_that_fires(
    browser: Any, page: Callable[..., LiveServer], tmp_path: Path
) -> None:
    from selenium.webdriver.support.ui import Select

    server = page()
    browser.get(server.url + "/__mock/ui")
    until(browser, lambda d: len(d.find_elements("css selector", "#vendors-body tr")) == 5, "the five vendors")
    curl = browser.find_element("css selector", "#vendors-body tr:nth-child(2) pre.curl").text
    assert curl.startswith(f"curl -X POST {server.url}/clickview/connect/token")

    client = ClickViewClient("demo-client", "demo-secret", base_url=f"{server.url}/clickview")
    assert client.token().access_token
    until(browser, lambda d: any(r[3] == "requestToken" and r[5] == "200" for r in journal_rows(d)),
          "the token request in the journal")
    until(browser, lambda d: click(d, "#journal-body tr.entry"), "an entry to click")
    details = until(browser, lambda d: d.execute_script(
        "const pre = document.querySelector('#journal-body tr.details pre'); return pre && pre.textContent"
    ), "the expanded entry")
    assert '"client_secret": "***"' in details and "demo-secret" not in details

    Select(browser.find_element("id", "fault-kind")).select_by_value("documented")
    Select(browser.find_element("id", "fault-vendor")).select_by_value("clickview")
    Select(browser.find_element("id", "fault-operation")).select_by_value("requestToken")
    params = browser.find_element("id", "fault-params")
    params.clear()
    params.send_keys('{"status": 401}')
    browser.find_element("id", "fault-arm").click()
    until(browser, lambda d: len(d.find_elements("css selector", "#faults-body tr")) == 1, "the armed fault")

    with pytest.raises(AuthenticationError):
        ClickViewClient("demo-client", "demo-secret", base_url=f"{server.url}/clickview").token()
    until(browser, lambda d: any(r[5] == "401" and r[6] == "documented" for r in journal_rows(d)),
          "the fault firing in the journal")
    until(browser, lambda d: not d.find_elements("css selector", "#faults-body tr"), "the used-up fault gone")
    save_artifact(browser, tmp_path, "control-page.png")


def test_the_page_filters_the_journal_and_moves_the_clock(browser: Any, page: Callable[..., LiveServer]) -> None:
    from selenium.webdriver.support.ui import Select

    server = page()
    browser.get(server.url + "/__mock/ui")
    until(browser, lambda d: len(d.find_elements("css selector", "#vendors-body tr")) == 5, "the five vendors")
    requests.post(f"{server.url}/clickview/connect/token", data={"grant_type": "client_credentials"}, timeout=5)
    requests.post(f"{server.url}/vision10/v1/api/oauth/token", json={}, timeout=5)
    until(browser, lambda d: len(journal_rows(d)) == 2, "both requests")
    Select(browser.find_element("id", "filter-vendor")).select_by_value("vision10")
    until(browser, lambda d: [r[2] for r in journal_rows(d)] == ["vision10"], "only the vision10 request")
    browser.find_element("id", "filter-status").send_keys("2xx")
    until(browser, lambda d: journal_rows(d) == [], "no 2xx vision10 request")
    before = requests.get(f"{server.url}/__mock/clock", timeout=5).json()["now"]
    seconds = browser.find_element("id", "clock-seconds")
    seconds.clear()
    seconds.send_keys("86400")
    browser.find_element("id", "clock-advance").click()
    until(browser, lambda _d: requests.get(f"{server.url}/__mock/clock", timeout=5).json()["now"] >= before + 86400,
          "the clock a day ahead")
    browser.find_element("id", "chaos-start").click()
    until(browser, lambda d: d.find_element("id", "chaos-state").text.startswith("on: seed 7"), "chaos on")
    browser.find_element("id", "chaos-stop").click()
    until(browser, lambda d: d.find_element("id", "chaos-state").text == "off", "chaos off")


def test_with_an_admin_token_the_page_asks_for_it_once_per_tab(browser: Any, page: Callable[..., LiveServer]) -> None:
    server = page(admin_token="page-admin-token")
    browser.get(server.url + "/__mock/ui")
    form = until(browser, lambda d: [f for f in d.find_elements("id", "token-form") if f.is_displayed()],
                 "the admin token form")[0]
    browser.find_element("id", "admin-token").send_keys("page-admin-token")
    form.submit()
    until(browser, lambda d: d.find_element("id", "chaos-state").text == "off", "the controls, with the token")
    assert browser.execute_script("return sessionStorage.getItem('tokenmock.admin_token')") == "page-admin-token"
    assert browser.execute_script("return localStorage.length") == 0  # kept for this tab only
    browser.refresh()  # same tab: not asked again
    until(browser, lambda d: d.find_element("id", "chaos-state").text == "off", "the controls after a reload")
    assert not browser.find_element("id", "token-form").is_displayed()
    browser.execute_script("sessionStorage.clear()")


def test_the_page_is_served_where_the_admin_api_answers_only(make_app: Callable[..., Flask]) -> None:
    http = make_app().test_client()
    page_answer = http.get("/__mock/ui")
    assert page_answer.status_code == 200 and b"/__mock/ui/page.js" in page_answer.data
    policy = page_answer.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy and "default-src 'none'" in policy
    assert http.get("/__mock/ui/page.js").headers["Content-Type"].startswith("text/javascript")
    assert http.get("/__mock/ui", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 403
    assert make_app(exposed=True).test_client().get("/__mock/ui").status_code == 403
    assert http.get("/__mock/ui/../admin.yaml").status_code == 404
    assert http.get("/__mock/ui/secrets.txt").status_code == 404


def test_the_page_ships_as_package_data_without_remote_resources() -> None:
    from tokenmock.mockserver.controls.control_page import ASSETS, asset

    for name in ASSETS:
        text = asset(name).decode().replace('xmlns="http://www.w3.org/2000/svg"', "")  # a name, not a load
        assert "http://" not in text and "https://" not in text, f"{name} loads something from elsewhere"
    assert "innerHTML" not in asset("page.js").decode()  # server data goes in as text only


def test_every_index_curl_line_gets_a_token(make_app: Callable[..., Flask], tmp_path: Path) -> None:
    import subprocess

    require("curl")
    server = LiveServer(make_app())
    try:
        index = requests.get(server.url + "/", timeout=5).json()
        for vendor, entry in index["vendors"].items():
            run = subprocess.run(["bash", "-c", entry["curl"] + " -s -o /dev/null -w '%{http_code}'"],
                                 capture_output=True, text=True, timeout=30, check=False)
            assert run.stdout == "200", f"{vendor}: {entry['curl']} answered {run.stdout} {run.stderr}"
    finally:
        server.stop()


def test_the_wheel_carries_the_page() -> None:
    import fnmatch
    import tomllib

    from tokenmock.mockserver.controls.control_page import ASSETS

    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["tokenmock.mockserver.controls.static"]
    for name in ASSETS:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in globs), f"{name} is not package data"


def console_errors(driver: Any) -> list[str]:
    """What the page logged as errors (a failed fetch, a 404 favicon, an exception) since the last look."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def fill(driver: Any, element_id: str, text: str) -> None:
    field = driver.find_element("id", element_id)
    field.clear()
    field.send_keys(text)


def status_line(driver: Any) -> str:
    return str(driver.find_element("id", "status-line").text)


def test_the_page_does_what_the_admin_api_does(browser: Any, page: Callable[..., LiveServer], tmp_path: Path) -> None:
    """Add a client, arm claims, mint a token and copy its curl line, revoke it, rotate keys: each through the
    page's forms, each checked from outside (the reference client, PyJWT, curl, the JWKS)."""
    import subprocess

    import jwt
    from selenium.webdriver.support.ui import Select

    server = page(vendors={"clickview": {"signing_secret": "page-test-secret-of-thirty-two-bytes!"}})
    browser.get("about:blank")
    console_errors(browser)  # what pages of earlier tests logged (a server stopped under their poll) is theirs
    browser.get(server.url + "/__mock/ui")
    until(browser, lambda d: len(d.find_elements("css selector", "#vendors-body tr")) == 5, "the five vendors")
    creds = browser.find_element("css selector", "#vendors-body tr:nth-child(5) td.creds").text
    assert 'other_user: {"username":"other@example.com"' in creds and "[object Object]" not in creds

    # Add a client; the reference client gets a token with it.
    Select(browser.find_element("id", "client-vendor")).select_by_value("clickview")
    fill(browser, "client-json", '{"client_id": "page-client", "client_secret": "page-secret", '
                                 '"scopes": ["smartembed.viewkey"], "claims": {"tenant": "from-the-page"}}')
    browser.find_element("id", "client-add").click()
    until(browser, lambda d: status_line(d).startswith("added a clickview client"), "the client added")
    token = ClickViewClient("page-client", "page-secret", base_url=f"{server.url}/clickview").token().access_token
    assert jwt.decode(token, options={"verify_signature": False})["tenant"] == "from-the-page"
    assert console_errors(browser) == []  # loading, polling and adding a client logged nothing
    fill(browser, "client-json", '{"client_id": "x", "client_secret": "y", "scopes": 5}')
    browser.find_element("id", "client-add").click()
    until(browser, lambda d: "client.scopes: must be array" in status_line(d), "the schema's refusal")
    refusal_logged = console_errors(browser)  # the browser logs every 4xx it fetched: this one is on purpose
    assert len(refusal_logged) == 1 and "/__mock/clients" in refusal_logged[0] and "400" in refusal_logged[0]

    # Arm claims for the next token; the table shows them until the token takes them.
    Select(browser.find_element("id", "claims-vendor")).select_by_value("clickview")
    fill(browser, "claims-json", '{"roles": ["admin"]}')
    fill(browser, "claims-times", "1")
    browser.find_element("id", "claims-arm").click()
    until(browser, lambda d: len(d.find_elements("css selector", "#claims-body tr")) == 1, "the armed claims")
    token = ClickViewClient("demo-client", "demo-secret", base_url=f"{server.url}/clickview").token().access_token
    assert jwt.decode(token, options={"verify_signature": False})["roles"] == ["admin"]
    until(browser, lambda d: not d.find_elements("css selector", "#claims-body tr"), "the used-up claims gone")

    # Mint a token, copy its curl line, run it.
    Select(browser.find_element("id", "mint-vendor")).select_by_value("clickview")
    fill(browser, "mint-claims", '{"tenant": "minted-on-the-page"}')
    fill(browser, "mint-lifetime", "600")
    browser.find_element("id", "mint-submit").click()
    minted = until(browser, lambda d: d.find_element("id", "minted-token").text, "the minted token")
    claims = jwt.decode(minted, "page-test-secret-of-thirty-two-bytes!", algorithms=["HS256"],
                        options={"verify_exp": False, "verify_nbf": False})
    assert claims["tenant"] == "minted-on-the-page" and claims["exp"] - claims["iat"] == 600
    browser.execute_cdp_cmd("Browser.grantPermissions", {
        "origin": server.url, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
    browser.find_element("id", "minted-copy").click()
    until(browser, lambda d: status_line(d) == "copied the curl line", "the curl line copied")
    copied = browser.execute_async_script("navigator.clipboard.readText().then(arguments[0], () => arguments[0](''))")
    assert copied == browser.find_element("id", "minted-curl").text and minted in copied
    if shutil.which("curl"):
        run = subprocess.run(["bash", "-c", copied + " -s -o /dev/null -w '%{http_code}'"],
                             capture_output=True, text=True, timeout=30, check=False)
        assert run.stdout == "200", run.stderr
    save_artifact(browser, tmp_path, "control-page-tokens.png", section="tokens-section")

    # Revoke it: the vendor's resource refuses it from now on.
    fill(browser, "revoke-token", minted)
    browser.find_element("id", "revoke-submit").click()
    until(browser, lambda d: status_line(d) == "token revoked", "the token revoked")
    refused = requests.get(f"{server.url}/clickview/api/v1/example", headers={"Authorization": f"Bearer {minted}"},
                           timeout=5)
    assert refused.status_code == 401

    # Rotate Vision10's keys: the key now signing was the first upcoming one the key set published.
    jwks = requests.get(f"{server.url}/vision10/.well-known/jwks.json", timeout=5).json()
    published = [key["kid"] for key in jwks["keys"]]
    Select(browser.find_element("id", "rotate-vendor")).select_by_value("vision10")
    browser.find_element("id", "rotate-submit").click()
    result = until(browser, lambda d: d.find_element("id", "rotate-result").text, "the rotation's result")
    assert result.startswith(f"signing with {published[1]}")

    # The favicon is the page's own; nothing else the page did logged an error.
    icon = browser.execute_script("return document.querySelector('link[rel=icon]').href")
    answer = requests.get(icon, timeout=5)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "image/svg+xml"
    assert console_errors(browser) == []
