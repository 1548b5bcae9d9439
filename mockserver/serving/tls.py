"""The local certificate authority behind `tokenmock serve --tls`, and the server certificate it issues.

Why: the vendors' endpoints are all https, and HTTP stacks that pin https (requests-oauthlib without
OAUTHLIB_INSECURE_TRANSPORT, mobile and browser clients) need a certificate they can be told to trust.
The CA is made once (with `trustme`, a library made for exactly this) and kept, so a client trusts it
once: `ca.pem` and `ca-key.pem` in a directory of mode 0700 (the user's data directory by default),
the private key 0600 whatever the umask. Each start issues a fresh server certificate for localhost,
127.0.0.1, ::1 and the configured names; `certfile`/`keyfile` take one's own instead.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import hashlib
import ipaddress
import os
import socket
import ssl
import stat
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs
import trustme

CA_CERT = "ca.pem"
CA_KEY = "ca-key.pem"
# Browsers refuse server certificates valid for longer than 398 days, whoever issued them.
SERVER_CERT_DAYS = 397
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


class TlsError(ValueError):
    """TLS cannot be set up as configured (a half-given certificate pair, an unusable directory)."""


@dataclass(frozen=True)
class TlsFiles:
    """What gunicorn needs (certfile, keyfile) and the CA a client should trust (None for one's own pair)."""

    certfile: str
    keyfile: str
    ca_file: str | None


def default_dir() -> Path:
    """Where the CA is kept unless `tls.ca_dir` says otherwise (e.g. ~/.local/share/tokenmock/tls)."""
    return platformdirs.user_data_path("tokenmock") / "tls"


def ca_dir(settings: Mapping[str, Any]) -> Path:
    """The CA directory the settings name."""
    configured = (settings.get("tls") or {}).get("ca_dir")
    return Path(configured).expanduser() if configured else default_dir()


def ca_file(settings: Mapping[str, Any]) -> Path | None:
    """The CA certificate the mock serves at /__mock/ca.pem: set only when it serves TLS with its own CA."""
    tls = settings.get("tls") or {}
    if not tls.get("enabled") or tls.get("certfile"):
        return None
    return ca_dir(settings) / CA_CERT


def _private_dir(directory: Path) -> None:
    """Create `directory` (and parents) 0700 whatever the umask; a folder that exists already is used only
    when it is this user's and nobody else can write to it, and is never chmod-ed (it may be shared on
    purpose, and changing another folder's mode is not the mock's business)."""
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        directory.mkdir(mode=0o700)
        os.chmod(directory, 0o700, follow_symlinks=False)  # made now, by us: narrow what the umask left
        return
    except FileExistsError:
        pass
    except OSError as exc:
        raise TlsError(f"cannot use {directory} for the TLS files: {exc.strerror}") from None
    try:
        info = os.stat(directory)
    except OSError as exc:
        raise TlsError(f"cannot use {directory} for the TLS files: {exc.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise TlsError(f"cannot use {directory} for the TLS files: not a folder")
    if info.st_uid != os.geteuid():
        raise TlsError(f"cannot use {directory} for the TLS files: it belongs to another user")
    if info.st_mode & 0o022:
        raise TlsError(
            f"cannot use {directory} for the TLS files: others can write to it (mode {stat.S_IMODE(info.st_mode):o}),"
            " and could swap the CA; choose a private folder for tls.ca_dir (or chmod go-w it)"
        )


def _open_own(path: Path) -> int:
    """Open a file of the CA folder for reading without following a symlink, and only when it is a regular
    file of this user's (a planted symlink or another user's file is refused, never read or chmod-ed)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        raise TlsError(f"cannot use {path}: {exc.strerror} (a symbolic link is not followed)") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
        os.close(fd)
        raise TlsError(f"cannot use {path}: not a regular file of this user's")
    return fd


def _read_own(path: Path, mode: int | None = None) -> bytes:
    """The content of a file of ours (`_open_own`), made `mode` first when given."""
    fd = _open_own(path)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(os.dup(fd), "rb") as handle:
            return handle.read()
    finally:
        os.close(fd)


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write atomically (a temporary file renamed over the target), created with `mode` from the start."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary)  # a leftover (or a planted link: unlinking never follows it)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        os.fchmod(fd, mode)  # the umask may have narrowed it; nothing may widen it
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(temporary, path)


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Serialise mocks starting at once, so they agree on one CA."""
    try:
        fd = os.open(directory / ".lock", os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise TlsError(f"cannot use {directory / '.lock'}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def local_ca(directory: Path) -> trustme.CA:
    """The CA kept in `directory`, made on first use."""
    _private_dir(directory)
    cert, key = directory / CA_CERT, directory / CA_KEY
    with _locked(directory):
        if os.path.lexists(cert) and os.path.lexists(key):
            key_pem = _read_own(key, 0o600)  # no symlink followed, nobody else's file chmod-ed
            return trustme.CA.from_pem(_read_own(cert), key_pem)
        ca = trustme.CA(organization_name="tokenmock local CA")
        _write(key, ca.private_key_pem.bytes(), 0o600)
        _write(cert, ca.cert_pem.bytes(), 0o644)
        return ca


def _check_pair(certfile: str, keyfile: str) -> None:
    """Load the pair as gunicorn will, before it starts: a file that is not PEM (or a key that does not
    match) would otherwise print "ready" and then fail every handshake."""
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(certfile, keyfile)
    except (ssl.SSLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or type(exc).__name__
        raise TlsError(
            f"cannot serve TLS with certfile {certfile} and keyfile {keyfile}: not a PEM certificate and its "
            f"private key ({reason})"
        ) from None


def server_names(host: str, configured: Iterable[str] = ()) -> list[str]:
    """The names the server certificate covers: loopback, the bound address (or, bound to every
    address, this machine's names) and the configured ones."""
    names = [*LOOPBACK_NAMES]
    bound = host.strip("[]")
    wildcard = bound in ("", "0.0.0.0", "::")  # noqa: S104 - recognising, not binding
    for name in [*([socket.gethostname(), socket.getfqdn()] if wildcard else [bound]), *configured]:
        name = str(name).strip().lower()
        if name and name not in names:
            names.append(name)
    return names


def _valid_name(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return all(part and len(part) < 64 for part in name.removeprefix("*.").split("."))
    return True


def prepare(settings: Mapping[str, Any], host: str) -> TlsFiles:
    """The certificate files for `serve --tls`: one's own pair when configured, else a fresh server
    certificate from the local CA for `server_names(...)`."""
    tls = settings.get("tls") or {}
    certfile, keyfile = tls.get("certfile"), tls.get("keyfile")
    if certfile or keyfile:
        if not (certfile and keyfile):
            raise TlsError("give both certfile and keyfile (or neither, to use the mock's own CA)")
        for path in (certfile, keyfile):
            if not os.access(path, os.R_OK):
                raise TlsError(f"cannot read {path}")
        _check_pair(str(certfile), str(keyfile))
        return TlsFiles(str(certfile), str(keyfile), None)
    directory = ca_dir(settings)
    names = [n for n in server_names(host, tls.get("hostnames") or ()) if _valid_name(n)]
    ca = local_ca(directory)
    now = datetime.datetime.now(datetime.UTC)
    leaf = ca.issue_cert(
        *names,
        common_name=names[0],
        organization_name="tokenmock",
        not_before=now - datetime.timedelta(hours=1),  # tolerate a client clock slightly behind
        not_after=now + datetime.timedelta(days=SERVER_CERT_DAYS),
    )
    tag = hashlib.sha256(",".join(names).encode()).hexdigest()[:12]
    cert, key = directory / f"server-{tag}.pem", directory / f"server-{tag}-key.pem"
    _write(key, leaf.private_key_pem.bytes(), 0o600)
    _write(cert, b"".join(blob.bytes() for blob in leaf.cert_chain_pems), 0o644)
    return TlsFiles(str(cert), str(key), str(directory / CA_CERT))
