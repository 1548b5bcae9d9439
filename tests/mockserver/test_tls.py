"""The local CA of `serve --tls`: made once, kept private whatever the umask; one's own pair instead."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography import x509
from flask import Flask

from tokenmock.cli import main
from tokenmock.mockserver.serving.tls import TlsError, ca_file, prepare, server_names


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0)  # the most permissive: every mode below must come from the code itself
    yield
    os.umask(previous)


def settings_for(directory: Path, **tls: Any) -> dict[str, Any]:
    return {"tls": {"enabled": True, "ca_dir": str(directory), **tls}}


def test_the_ca_is_made_once_and_kept(tmp_path: Path) -> None:
    first = prepare(settings_for(tmp_path / "ca"), "127.0.0.1")
    ca = Path(first.ca_file or "").read_bytes()
    second = prepare(settings_for(tmp_path / "ca"), "127.0.0.1")
    assert second.ca_file == first.ca_file and Path(second.ca_file or "").read_bytes() == ca
    issuer = x509.load_pem_x509_certificate(Path(second.certfile).read_bytes()).issuer
    assert issuer == x509.load_pem_x509_certificate(ca).subject


def test_key_material_is_private_whatever_the_umask(tmp_path: Path, open_umask: None) -> None:
    directory = tmp_path / "deep" / "ca"
    files = prepare(settings_for(directory), "127.0.0.1")
    assert directory.stat().st_mode & 0o777 == 0o700
    for key in (directory / "ca-key.pem", Path(files.keyfile)):
        assert key.stat().st_mode & 0o777 == 0o600


def test_an_existing_folder_is_used_as_it_is(tmp_path: Path) -> None:
    """Issue 22: a folder the mock did not create is never chmod-ed (it may be shared on purpose); one
    nobody else can write is used, its key files still 0600 (tests/security/test_files_round3.py refuses
    the others)."""
    directory = tmp_path / "ca"
    directory.mkdir(mode=0o755)
    os.chmod(directory, 0o755)
    prepare(settings_for(directory), "127.0.0.1")
    assert directory.stat().st_mode & 0o777 == 0o755
    assert (directory / "ca-key.pem").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("host", "configured", "wanted"),
    [
        ("127.0.0.1", [], ["localhost", "127.0.0.1", "::1"]),
        ("mock.ci", ["Mock.Example"], ["localhost", "127.0.0.1", "::1", "mock.ci", "mock.example"]),
        ("0.0.0.0", [], ["localhost", "127.0.0.1", "::1", socket.gethostname().lower()]),
    ],
)
def test_the_server_certificate_names(host: str, configured: list[str], wanted: list[str]) -> None:
    names = server_names(host, configured)
    assert names[:3] == ["localhost", "127.0.0.1", "::1"] and set(wanted) <= set(names)


def test_configured_hostnames_are_in_the_certificate(tmp_path: Path) -> None:
    files = prepare(settings_for(tmp_path, hostnames=["mock.ci.example"]), "127.0.0.1")
    certificate = x509.load_pem_x509_certificate(Path(files.certfile).read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "mock.ci.example" in names.get_values_for_type(x509.DNSName)


def test_ones_own_pair_is_used_as_given(tmp_path: Path) -> None:
    own = prepare(settings_for(tmp_path / "ca"), "127.0.0.1")
    files = prepare({"tls": {"enabled": True, "certfile": own.certfile, "keyfile": own.keyfile}}, "127.0.0.1")
    assert (files.certfile, files.keyfile, files.ca_file) == (own.certfile, own.keyfile, None)


@pytest.mark.parametrize(
    ("tls", "message"),
    [
        ({"certfile": "/etc/hostname"}, "give both certfile and keyfile"),
        ({"certfile": "/nonexistent/cert.pem", "keyfile": "/nonexistent/key.pem"}, "cannot read"),
    ],
)
def test_a_bad_pair_is_refused(tls: dict[str, str], message: str) -> None:
    with pytest.raises(TlsError, match=message):
        prepare({"tls": {"enabled": True, **tls}}, "127.0.0.1")


def test_serve_refuses_half_a_pair_without_a_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["serve", "--port", "24998", "--certfile", str(tmp_path / "cert.pem")])
    assert result.exit_code == 1
    assert "give both certfile and keyfile" in result.output and "Traceback" not in result.output


def test_ca_pem_is_404_unless_the_mock_serves_its_own_ca(make_app: Callable[..., Flask], tmp_path: Path) -> None:
    plain = make_app().test_client().get("/__mock/ca.pem")
    assert plain.status_code == 404 and plain.get_json()["error"] == "not_found"
    own = {"enabled": True, "certfile": "cert.pem", "keyfile": "key.pem"}
    assert make_app(tls=own).test_client().get("/__mock/ca.pem").status_code == 404
    assert ca_file({"tls": own}) is None
    prepare(settings_for(tmp_path), "127.0.0.1")
    served = make_app(**settings_for(tmp_path)).test_client().get("/__mock/ca.pem")
    assert served.status_code == 200 and served.data == (tmp_path / "ca.pem").read_bytes()
