"""The database over TLS, as production reaches it (DATABASE_SSLMODE=verify-full against a CA bundle).

The client's side runs for real: pg8000's SSLRequest, the handshake, the certificate and host checks
of `connect_params`, and every answer read through the TLS socket by PreparingConnection (one write
per statement, messages read straight from the buffered socket, answers larger than a TLS record).
The server is the suite's PostgreSQL behind a TLS front (tests/support/tls_front.py), because the
embedded PostgreSQL is built without TLS.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from lending_postgres import ConnectionPool
from lending_postgres.connection import DatabaseUnavailable
from tests.auth.served import self_signed
from tests.support.tls_front import TlsFront


@pytest.fixture
def front(database_url: str, tmp_path: Path) -> Iterator[TlsFront]:
    cert, key = self_signed()  # for 127.0.0.1, its own CA
    (tmp_path / "server.crt").write_bytes(cert)
    (tmp_path / "server.key").write_bytes(key)
    parts = urlsplit(database_url)
    served = TlsFront((parts.hostname or "127.0.0.1", parts.port or 5432), tmp_path / "server.crt",
                      tmp_path / "server.key")
    yield served
    served.close()


def _url(database_url: str, front: TlsFront, query: str) -> str:
    parts = urlsplit(database_url)
    user = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return f"{parts.scheme}://{user}127.0.0.1:{front.port}{parts.path}?{query}"


def _ca(tmp_path: Path, name: str, pem: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(pem)
    return path


def test_statements_over_verify_full_answer_as_they_do_without_tls(database_url: str, front: TlsFront,
                                                                   tmp_path: Path) -> None:
    pool = ConnectionPool(_url(database_url, front, f"sslmode=verify-full&sslrootcert={tmp_path / 'server.crt'}"),
                          size=1)
    try:
        with pool.connection() as c:
            assert isinstance(c._usock, ssl.SSLSocket) and c._usock.version() in ("TLSv1.2", "TLSv1.3")
            assert c.run("SELECT CAST(:s AS text), CAST(:n AS int) * 2", s="哪吒 ✓", n=21) == [["哪吒 ✓", 42]]
            big = c.run("SELECT repeat(CAST(:s AS text), 50000), g FROM generate_series(1, 3) AS g", s="ab")
            assert [(len(text), g) for text, g in big] == [(100000, 1), (100000, 2), (100000, 3)]  # past a TLS record
            assert c.pipeline(("SELECT CAST(:a AS int) + 1", {"a": 1}), ("SELECT CAST(:b AS text)", {"b": "x"})) \
                == [[[2]], [["x"]]]
        with pool.transaction() as c:  # BEGIN sent ahead of the first statement, then COMMIT
            assert c.run("SELECT CAST(:n AS int)", n=7) == [[7]]
    finally:
        pool.close()
    assert front.handshakes == 1  # one connection, kept by the pool between the two checkouts


def test_a_server_certificate_not_signed_by_the_bundle_is_refused(database_url: str, front: TlsFront,
                                                                  tmp_path: Path) -> None:
    other = _ca(tmp_path, "other.pem", self_signed()[0])
    for mode in ("verify-full", "verify-ca"):
        pool = ConnectionPool(_url(database_url, front, f"sslmode={mode}&sslrootcert={other}"), size=1)
        with pytest.raises(DatabaseUnavailable), pool.connection() as c:
            c.run("SELECT 1")
        pool.close()
    assert front.handshakes == 0  # refused in the handshake: not one statement went to the server


def test_verify_full_checks_the_host_and_verify_ca_does_not(database_url: str, front: TlsFront,
                                                            tmp_path: Path) -> None:
    ca = tmp_path / "server.crt"  # issued for 127.0.0.1, reached here as localhost
    named = _url(database_url, front, f"sslmode=verify-full&sslrootcert={ca}").replace("127.0.0.1", "localhost")
    pool = ConnectionPool(named, size=1)
    with pytest.raises(DatabaseUnavailable), pool.connection() as c:
        c.run("SELECT 1")
    pool.close()
    pool = ConnectionPool(named.replace("verify-full", "verify-ca"), size=1)
    try:
        with pool.connection() as c:
            assert c.run("SELECT 1") == [[1]]
    finally:
        pool.close()


def test_a_tls_stream_that_ends_mid_answer_is_unavailable_and_the_pool_heals(database_url: str, front: TlsFront,
                                                                             tmp_path: Path) -> None:
    pool = ConnectionPool(_url(database_url, front, f"sslmode=verify-full&sslrootcert={tmp_path / 'server.crt'}"),
                          size=1)
    try:
        front.cut_after = 2000  # past the start-up's answers, inside the big answer below
        with pytest.raises(DatabaseUnavailable), pool.connection() as c:
            c.run("SELECT repeat(CAST(:s AS text), 50000)", s="ab")
        front.cut_after = None
        with pool.connection() as c:  # the broken connection was thrown away; a new one is made
            assert c.run("SELECT CAST(:n AS int)", n=1) == [[1]]
    finally:
        pool.close()
    assert front.handshakes == 2
