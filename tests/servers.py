"""Fixture servers as subprocesses on 127.0.0.1: started the same way, their request logs read the same way."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


class ServerProcess:
    """`python -m MODULE ARGS`, which prints its URL (port chosen by the OS) and logs every request as a JSON line."""

    def __init__(self, module: str, args: list[str], log: Path) -> None:
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, *args], cwd=REPO, stdout=subprocess.PIPE, text=True
        )
        self.url = self.readline().rstrip("/")
        assert self.url.startswith("http://127.0.0.1:"), f"{module} did not start: {self.url!r}"
        self.port = int(self.url.rsplit(":", 1)[1])

    def readline(self) -> str:
        """The next line the server printed at start."""
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def requests(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines() if line]

    def requested_paths(self) -> list[str]:
        return [r["path"] for r in self.requests()]

    def clear_log(self) -> None:
        self.log.write_text("")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


class RedisServer:
    """A real redis-server (Debian's package) on 127.0.0.1, on a free port, its data in a folder of its own.

    ``appendonly`` keeps every write in the append-only file, fsynced at
    once, so that a server killed and started again has lost nothing: what
    a production Redis for a shared crawl is set up to do (see the README).
    ``password`` sets requirepass, ``acl`` adds ACL users (redis.conf's
    ``user`` lines), and ``tls`` (a ``TlsFiles``) serves TLS only, with
    client certificates required: the set-ups the README shows.
    """

    def __init__(
        self,
        folder: Path,
        appendonly: bool = False,
        password: str | None = None,
        acl: list[str] | None = None,
        tls: TlsFiles | None = None,
    ) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed: apt-get install redis-server (.ci/run does)"
        self.binary = binary
        self.folder = folder
        self.appendonly = appendonly
        self.password = password
        self.acl = acl or []
        self.tls = tls
        folder.mkdir(parents=True, exist_ok=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        scheme = "rediss" if tls else "redis"
        auth = f":{password}@" if password else ""
        self.url = f"{scheme}://{auth}127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        args = [self.binary, "--bind", "127.0.0.1", "--dir", str(self.folder), "--save", ""]
        args += ["--appendonly", "yes", "--appendfsync", "always"] if self.appendonly else ["--appendonly", "no"]
        if self.password:
            args += ["--requirepass", self.password]
        if self.acl:
            acl_file = self.folder / "users.acl"
            acl_file.write_text("".join(f"user {rule}\n" for rule in self.acl))
            args += ["--aclfile", str(acl_file)]
        if self.tls:
            t = self.tls
            args += ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", str(t.server_cert)]
            args += ["--tls-key-file", str(t.server_key), "--tls-ca-cert-file", str(t.ca), "--tls-auth-clients", "yes"]
        else:
            args += ["--port", str(self.port)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as raw:
                    conn = self.tls.client_context().wrap_socket(raw, server_hostname="127.0.0.1") if self.tls else raw
                    conn.sendall(b"PING\r\n")
                    # A server that asks for a password has started too.
                    if conn.recv(16).startswith((b"+PONG", b"-NOAUTH")):
                        return
            except OSError:
                pass
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def client(self) -> Any:
        """A client with every right: the default user, with the password if there is one."""
        import redis

        if self.tls:
            return redis.Redis.from_url(self.url, **self.tls.client_params())
        return redis.Redis.from_url(self.url)

    def kill(self) -> None:
        """SIGKILL: the server is gone at once, as in a crash."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


class TlsFiles:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, both signed by it (PEM files in a folder)."""

    def __init__(self, folder: Path) -> None:
        import datetime
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        folder.mkdir(parents=True, exist_ok=True)
        now = datetime.datetime.now(datetime.UTC)

        def name(common: str) -> x509.Name:
            return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

        def write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
            path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))

        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = (
            x509.CertificateBuilder().subject_name(name("arshif test CA")).issuer_name(name("arshif test CA"))
            .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        self.ca = folder / "ca.pem"
        self.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))

        def issue(stem: str, usage: x509.ObjectIdentifier, san: x509.GeneralName | None) -> tuple[Path, Path]:
            key = ec.generate_private_key(ec.SECP256R1())
            builder = (
                x509.CertificateBuilder().subject_name(name(stem)).issuer_name(ca.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            )
            if san is not None:
                builder = builder.add_extension(x509.SubjectAlternativeName([san]), critical=False)
            cert, key_file = folder / f"{stem}.pem", folder / f"{stem}.key"
            cert.write_bytes(builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
            write_key(key_file, key)
            return cert, key_file

        self.server_cert, self.server_key = issue(
            "server", ExtendedKeyUsageOID.SERVER_AUTH, x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
        )
        self.client_cert, self.client_key = issue("client", ExtendedKeyUsageOID.CLIENT_AUTH, None)

    def client_context(self) -> Any:
        import ssl

        context = ssl.create_default_context(cafile=str(self.ca))
        context.load_cert_chain(str(self.client_cert), str(self.client_key))
        return context

    def client_params(self) -> dict[str, str]:
        return {"ssl_ca_certs": str(self.ca), "ssl_certfile": str(self.client_cert), "ssl_keyfile": str(self.client_key)}

    def settings(self) -> dict[str, str]:
        """The crawl's settings for it."""
        return {"REDIS_TLS_CA_FILE": str(self.ca), "REDIS_TLS_CERT_FILE": str(self.client_cert), "REDIS_TLS_KEY_FILE": str(self.client_key)}
