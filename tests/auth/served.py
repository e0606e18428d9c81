"""A provider the test serves over real HTTP (or HTTPS with a certificate of its own) and reshapes at will:
routes answer JSON or redirect, the whole server can go down, and every hit is counted."""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import tempfile
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def self_signed() -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


class Served:
    """`routes[path]` is a JSON-able dict (200) or ("redirect", url) (302); anything else is 404."""

    def __init__(self, *, tls: bool = False, keep_alive: bool = False) -> None:
        self.routes: dict[str, Any] = {}
        self.hits: Counter[str] = Counter()
        self.connections = 0  # accepted: with keep_alive, one serves every request a client sends on it
        self.down = False
        served = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def setup(self) -> None:
                served.connections += 1
                super().setup()

            def do_GET(self) -> None:  # noqa: N802
                served.hits[self.path] += 1
                route = served.routes.get(self.path)
                if served.down or route is None:
                    self.send_response(503 if served.down else 404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if isinstance(route, tuple) and route[0] == "redirect":
                    self.send_response(302)
                    self.send_header("Location", route[1])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = json.dumps(route).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.client_context: ssl.SSLContext | None = None
        if tls:
            cert, key = self_signed()
            with tempfile.TemporaryDirectory() as d:
                (Path(d) / "cert.pem").write_bytes(cert)
                (Path(d) / "key.pem").write_bytes(key)
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(Path(d) / "cert.pem", Path(d) / "key.pem")
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self.client_context = ssl.create_default_context(cadata=cert.decode())
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def publish(self, jwks_path: str, keys: list[dict[str, Any]], issuer: str | None = None) -> None:
        """Discovery naming `jwks_path` on this server, and the JWKS there."""
        self.routes["/.well-known/openid-configuration"] = {"issuer": issuer or self.url,
                                                            "jwks_uri": f"{self.url}{jwks_path}"}
        self.routes[jwks_path] = {"keys": keys}

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
