"""End to end: `tokenmock serve --tls`, trusted through the CA it prints and serves, by requests,
requests-oauthlib and curl; wire faults still happen under TLS."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import trustme
from cryptography import x509
from oauthlib.oauth2 import BackendApplicationClient, InsecureTransportError
from requests_oauthlib import OAuth2Session

from tests.documentation import section
from tests.ports import free_port
from tests.system import require

ROOT = Path(__file__).resolve().parents[2]
FORM = {
    "grant_type": "client_credentials",
    "client_id": "demo-client",
    "client_secret": "demo-secret",
    "scope": "smartembed.viewkey",
}
START_TIMEOUT = 30.0



@dataclass
class TlsServer:
    base: str
    port: int
    ca_file: Path
    log: Path


@contextmanager
def serving(work: Path, *args: str) -> Iterator[TlsServer]:
    """`tokenmock serve ARGS` on a port of this suite's range, its CA kept under `work`; stopped by PID."""
    ca_dir, log = work / "ca", work / "serve.log"
    port = free_port()
    env = {**os.environ, "TOKENMOCK__TLS__CA_DIR": str(ca_dir)}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tokenmock", "serve", *args, "--workers", "1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"https://localhost:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while "tokenmock ready" not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"serve {' '.join(args)} did not start: {log.read_text()}")
            time.sleep(0.05)  # polling a starting server, not waiting for expiry
        yield TlsServer(base, port, ca_dir / "ca.pem", log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0, log.read_text()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    with serving(tmp_path_factory.mktemp("tls-serve"), "--tls") as started:
        yield started


def test_ones_own_certificate_is_served(tmp_path: Path) -> None:
    authority = trustme.CA()
    leaf = authority.issue_cert("localhost")
    cert, key, ca = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "own-ca.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    authority.cert_pem.write_to_path(str(ca))
    with serving(tmp_path, "--certfile", str(cert), "--keyfile", str(key)) as own:
        health = requests.get(own.base + "/__mock/health", verify=str(ca), timeout=5)
        assert health.status_code == 200
        assert requests.get(own.base + "/__mock/ca.pem", verify=str(ca), timeout=5).status_code == 404
        assert "TLS: trust the CA" not in own.log.read_text()
        assert not own.ca_file.exists()  # no local CA was made


def test_start_prints_the_ca_path_and_https_urls(server: TlsServer) -> None:
    output = server.log.read_text()
    assert f"TLS: trust the CA {server.ca_file} (also at https://127.0.0.1:{server.port}/__mock/ca.pem)" in output
    assert f"clickview   https://127.0.0.1:{server.port}/clickview" in output


def test_the_ca_is_kept_private_and_served(server: TlsServer) -> None:
    directory = server.ca_file.parent
    assert directory.stat().st_mode & 0o777 == 0o700
    assert (directory / "ca-key.pem").stat().st_mode & 0o777 == 0o600
    served = requests.get(server.base + "/__mock/ca.pem", verify=str(server.ca_file), timeout=5)
    assert served.status_code == 200 and served.headers["Content-Type"] == "application/x-pem-file"
    assert served.content == server.ca_file.read_bytes()
    assert b"PRIVATE KEY" not in served.content


def test_requests_trusts_the_server_through_the_ca_only(server: TlsServer) -> None:
    for host in ("localhost", "127.0.0.1"):  # both names are in the certificate
        token = requests.post(f"https://{host}:{server.port}/clickview/connect/token", data=FORM,
                              verify=str(server.ca_file), timeout=5)
        assert token.status_code == 200 and token.json()["token_type"] == "Bearer"
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(server.base + "/__mock/health", timeout=5)  # the system's CAs do not vouch for it


def test_requests_oauthlib_gets_a_token_without_insecure_transport(
    server: TlsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OAUTHLIB_INSECURE_TRANSPORT", raising=False)
    session = OAuth2Session(client=BackendApplicationClient(client_id="demo-client"), scope=["smartembed.viewkey"])
    with pytest.raises(InsecureTransportError):  # why TLS matters: plain http is refused outright
        session.fetch_token(f"http://127.0.0.1:{server.port}/clickview/connect/token", client_secret="demo-secret")
    token = session.fetch_token(
        f"{server.base}/clickview/connect/token",
        client_id="demo-client",
        client_secret="demo-secret",
        verify=str(server.ca_file),
    )
    assert token["token_type"] == "Bearer" and token["access_token"]
    example = session.get(f"{server.base}/clickview/api/v1/example", verify=str(server.ca_file), timeout=5)
    assert example.status_code == 200


def test_curl_with_cacert(server: TlsServer) -> None:
    require("curl")
    command = ["curl", "-sS", "--cacert", str(server.ca_file), f"{server.base}/clickview/connect/token",
               *(arg for name, value in FORM.items() for arg in ("--data", f"{name}={value}"))]
    done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["token_type"] == "Bearer"
    untrusted = subprocess.run(["curl", "-sS", f"{server.base}/__mock/health"], capture_output=True, timeout=30,
                               check=False)
    assert untrusted.returncode == 60  # "SSL certificate problem"


def test_the_certificate_names_every_loopback_address(server: TlsServer) -> None:
    pem = next(p for p in server.ca_file.parent.glob("server-*.pem") if not p.name.endswith("-key.pem"))
    certificate = x509.load_pem_x509_certificate(pem.read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"localhost"} <= set(names.get_values_for_type(x509.DNSName))
    assert {"127.0.0.1", "::1"} <= {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}


def arm(server: TlsServer, kind: str, **params: object) -> None:
    armed = requests.post(
        server.base + "/__mock/faults",
        json={"kind": kind, "vendor": "clickview", "operation": "requestToken", "times": 1, "params": params},
        verify=str(server.ca_file),
        timeout=5,
    )
    assert armed.status_code == 201, armed.text


def fetch(server: TlsServer) -> requests.Response:
    return requests.post(server.base + "/clickview/connect/token", data=FORM, verify=str(server.ca_file), timeout=10)


@pytest.mark.parametrize(
    ("kind", "params", "error"),
    [
        ("connection_reset", {}, requests.ConnectionError),
        ("truncated_body", {}, requests.exceptions.ChunkedEncodingError),
        ("stalled_body", {"seconds": 1}, requests.exceptions.ChunkedEncodingError),
        ("not_http", {}, requests.ConnectionError),
    ],
)
def test_wire_faults_happen_under_tls(server: TlsServer, kind: str, params: dict[str, object], error: type) -> None:
    arm(server, kind, **params)
    with pytest.raises(error):
        fetch(server)
    assert fetch(server).status_code == 200  # the next request is answered


def test_slow_drip_under_tls_delivers_the_whole_body(server: TlsServer) -> None:
    arm(server, "slow_drip", chunk_bytes=16, interval_ms=2)
    dripped = fetch(server)
    assert dripped.status_code == 200 and dripped.json()["token_type"] == "Bearer"
    entry = requests.get(server.base + "/__mock/requests?limit=1", verify=str(server.ca_file), timeout=5).json()
    assert entry["requests"][0]["fault"] == "slow_drip"


def test_the_log_holds_no_secret(server: TlsServer) -> None:
    output = server.log.read_text()
    assert "demo-secret" not in output and "PRIVATE KEY" not in output
    assert not re.search(r"Traceback", output)


# The documentation's HTTPS examples, run against this server (its port and CA directory in place of the defaults).
HTTPS = section("HTTPS: `tokenmock serve --tls`")
DEFAULT_CA = "~/.local/share/tokenmock/tls/ca.pem"


def readme_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", HTTPS, re.S)


def localised(text: str, server: TlsServer) -> str:
    return text.replace("https://localhost:8080", server.base).replace(DEFAULT_CA, str(server.ca_file))


def test_readme_https_shell_example(server: TlsServer) -> None:
    (block,) = readme_blocks("sh")
    lines = block.strip().splitlines()
    assert lines[0] == "tokenmock serve --tls"  # what the fixture runs (with a port and a CA directory)
    done = subprocess.run(["bash", "-e", "-c", localised("\n".join(lines[1:]), server)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "ok"


def test_readme_https_python_example(server: TlsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OAUTHLIB_INSECURE_TRANSPORT", raising=False)
    (block,) = readme_blocks("python")
    exec(compile(localised(block, server), "docs HTTPS python block", "exec"), {})


def test_the_default_ca_directory_is_the_one_the_readme_names(monkeypatch: pytest.MonkeyPatch) -> None:
    from tokenmock.mockserver.serving.tls import default_dir

    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    if sys.platform.startswith("linux"):
        assert default_dir() / "ca.pem" == Path(DEFAULT_CA).expanduser()
