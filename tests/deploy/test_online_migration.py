"""Issue 17's migration test: a database at today's schema, filled through today's API, migrates online
to circulation's schema through the local blue/green deploy, while today's version keeps answering.

The OLD version is this repository's commit before circulation (OLD_COMMIT: its migrations stop at
0001 + 0003_reconcile_backoff); the new one is the tree under test. The throwaway repository holds
the old tree as its first commit and this tree as its second, and the estate starts on the first:
both VMs run the old code (their instances are the old release's own gunicorn command, unchanged
since; the agent, the load balancer and the VMs' nginx are the deploying side's, as on a real
estate). Then:

1. the old version is deployed (its migrations applied by step 4, run inside the old release);
2. loans, sales and payments are put in through the old API (real cards at localstripe) and
   every row of books, loans, purchases, payments and the status history is recorded;
3. under background traffic through the load balancer (patrons borrowing and returning, catalogue
   readers, a librarian adding copies) the new version is deployed: step 4 applies the pending
   migrations (0002 … 0007) while the old version serves, the destructive-migration check passes,
   the new version ships, the load balancer switches;
4. 0 failed requests; every recorded row kept as it was, every id kept; copies of one ISBN are
   one title; the new version answers /titles; the copies the old version added during the window
   have titles (those after the backfill by the assign_title trigger); the old VM, the failover, still
   answers /ready on the migrated schema.
"""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from deploy.local import LocalEstate
from deploy.local_layout import Ports
from deploy.local_vms import LocalEstateRunner
from dev.embedded import ROOT, free_port
from lending_postgres import ConnectionPool
from lending_postgres.migrate import all_migrations
from tests.conftest import Client, create_database
from tests.deploy.conftest import SWITCH_SECONDS_LIMIT, Repo, lb_version, run_deploy, vm_version
from tests.support.issuer import TestIssuer
from tests.vm.traffic import PAYMENT, Traffic

OLD_COMMIT = "ce005e8"  # integrate just before the circulation merge (4c8d127)
MIGRATIONS = "layers/database/python/lending_postgres/migrations"
OLD_MIGRATIONS = {"0001_catalogue_loans_purchases.sql", "0003_reconcile_backoff.sql"}
TABLES = {"books": "book_id", "loans": "loan_id", "purchases": "purchase_id", "payments": "payment_id",
          "book_status_history": "entry_id"}
NEW_COLUMNS = ("title_id", "renewals", "renewal_id",  # what the migrations add to today's tables: circulation,
               "found_at",  # fees (0009),
               "barcode", "withdrawn_reason", "withdrawn_at", "refunded_by_iss", "refunded_by_sub", "refunded_at")  # desk
HOBBIT, EMMA, DUNE = "9780261102217", "9780141439587", "9780441013593"


@dataclass
class History:
    repo: Repo
    old: str
    new: str


def _extract(rev: str, into: Path) -> None:
    archive = subprocess.Popen(["git", "-C", str(ROOT), "archive", "--format=tar", rev], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(into)], stdin=archive.stdout, check=True)
    assert archive.wait() == 0, f"git archive {rev} failed"


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    """A throwaway repository: the old version's tree, then this tree (uncommitted edits included); HEAD on the old."""
    found = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet", f"{OLD_COMMIT}^{{commit}}"],
                           capture_output=True, text=True, check=False)
    assert found.returncode == 0, f"{OLD_COMMIT} (the version before circulation) is not in this repository's history"
    path = tmp_path_factory.mktemp("history")
    repo = Repo(path)
    _extract(OLD_COMMIT, path)
    repo.git("init", "--quiet")
    repo.git("add", "-A")
    repo.git("commit", "--quiet", "-m", f"the version before circulation ({OLD_COMMIT})")
    old = repo.git("rev-parse", "--short=12", "HEAD")
    assert {p.name for p in (path / MIGRATIONS).glob("*.sql")} == OLD_MIGRATIONS
    repo.git("rm", "-r", "-q", ".")
    snapshot = subprocess.run(["git", "-C", str(ROOT), "stash", "create"], capture_output=True, text=True,
                              check=True).stdout.strip() or "HEAD"
    _extract(snapshot, path)
    repo.git("add", "-A")
    repo.git("commit", "--quiet", "-m", "the tree under test")
    new = repo.git("rev-parse", "--short=12", "HEAD")
    repo.git("checkout", "--quiet", "--detach", old)
    return History(repo, old, new)


@pytest.fixture(scope="module")
def old_database_url(postgres_server: str) -> str:
    """A database of its own, empty: the old version's deploy makes today's schema in it."""
    return create_database(postgres_server, f"lending_online_{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")
def estate_dir(service_env: dict[str, str], old_database_url: str, history: History,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The estate of tests/deploy/conftest.py, on the old database, both VMs on the old version."""
    directory = tmp_path_factory.mktemp("estate")
    env = {k: v for k, v in service_env.items() if k != "APP_VERSION"} | {"DATABASE_URL": old_database_url}
    ports = Ports(free_port(), free_port(), free_port(), {c: (free_port(), free_port(), free_port()) for c in ("blue", "green")})
    with LocalEstateRunner(env, directory, ports, source=history.repo.path):
        yield directory


@pytest.fixture(scope="module")
def db(old_database_url: str) -> Iterator[ConnectionPool]:
    pool = ConnectionPool(old_database_url, size=2)
    yield pool
    pool.close()


def rows(db: ConnectionPool, query: str, **params: Any) -> list[list[Any]]:
    with db.connection() as c:
        found: list[list[Any]] = c.run(query, **params)
    return found


def snapshot(db: ConnectionPool) -> dict[str, dict[str, tuple[Any, ...]]]:
    """Every row of today's tables in today's columns (not those the migrations add), by id."""
    out = {}
    for table, key in TABLES.items():
        columns = [r[0] for r in rows(db, "SELECT column_name FROM information_schema.columns WHERE table_name = :t "
                                          "AND column_name <> ALL(CAST(:new AS text[])) ORDER BY ordinal_position",
                                      t=table, new=list(NEW_COLUMNS))]
        out[table] = {str(r[0]): tuple(r) for r in rows(db, f"SELECT {key}, {', '.join(columns)} FROM {table}")}
    return out


class OldApi:
    """The old version's API through the load balancer, with plain requests (the contract checked by
    tests.conftest.Client is the new version's: the old one's books have no title_id)."""

    def __init__(self, base: str, issuer: TestIssuer) -> None:
        self.base, self.issuer = base, issuer

    def call(self, method: str, path: str, user: str, body: Any = None, *, librarian: bool = False) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.issuer.token(user, librarian=librarian)}"}
        if method == "POST" and path != "/books":
            headers["Idempotency-Key"] = str(uuid.uuid4())
        return requests.request(method, self.base + path, json=body, headers=headers, timeout=30)

    def add(self, isbn: str, title: str, author: str) -> str:
        r = self.call("POST", "/books", "libby", {"isbn": isbn, "title": title, "author": author, "price_cents": 1500,
                                                   "borrow_fee_cents": 200, "currency": "usd"}, librarian=True)
        assert r.status_code == 201 and "title_id" not in r.json(), r.text  # the old version's answer
        return str(r.json()["book_id"])

    def ok(self, method: str, path: str, user: str, body: Any = None, status: int = 200) -> dict[str, Any]:
        r = self.call(method, path, user, body)
        assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text}"
        return dict(r.json())


def seed(api: OldApi) -> dict[str, list[str]]:
    """What today's patrons leave in the database: copies of one ISBN, open and closed loans, sales,
    a declined card, a sale on a copy that had been lent."""
    hobbits = [api.add(HOBBIT, "The Hobbit", "J. R. R. Tolkien") for _ in range(3)]
    emmas = [api.add(EMMA, "Emma", "Jane Austen") for _ in range(2)]
    dune = api.add(DUNE, "Dune", "Frank Herbert")
    api.ok("POST", f"/books/{hobbits[0]}/borrow", "alice", PAYMENT, 201)                      # open loan
    api.ok("POST", f"/books/{hobbits[1]}/borrow", "bob", PAYMENT, 201)                        # closed loan
    api.ok("POST", f"/books/{hobbits[1]}/return", "bob")
    api.ok("POST", f"/books/{emmas[0]}/purchase", "carol", PAYMENT, 201)                      # sale
    api.ok("POST", f"/books/{dune}/borrow", "dave", {"payment_method": "pm_card_chargeCustomerFail"}, 402)  # failed
    api.ok("POST", f"/books/{emmas[1]}/borrow", "erin", PAYMENT, 201)                         # lent, returned, sold
    api.ok("POST", f"/books/{emmas[1]}/return", "erin")
    api.ok("POST", f"/books/{emmas[1]}/purchase", "erin", PAYMENT, 201)
    return {HOBBIT: hobbits, EMMA: emmas, DUNE: [dune]}


def librarian_adding_copies(traffic: Traffic, token: str, added: list[tuple[str, str, float]]) -> None:
    """A librarian adding copies through the load balancer (a new ISBN each time, every third one a
    copy of The Hobbit): what the old version writes while the migrations run."""
    auth = {"Authorization": f"Bearer {token}"}
    until, n = time.monotonic() + traffic.deadline_seconds, 0
    with requests.Session() as session:
        while traffic._running(until):
            n += 1
            isbn = HOBBIT if n % 3 == 0 else f"979{uuid.uuid4().int % 10**9:09d}0"
            body = {"isbn": isbn, "title": f"Added during the deploy {n}", "author": "Window Writer",
                    "price_cents": 900, "borrow_fee_cents": 100, "currency": "usd"}
            r = traffic._call(session, "add", "POST", "/books", json=body, headers=auth)
            if r is not None and r.status_code == 201:
                added.append((str(r.json()["book_id"]), r.headers.get("X-Lending-VM", ""), time.time()))
            time.sleep(0.1)


def report(capsys: pytest.CaptureFixture[str], line: str) -> None:
    with capsys.disabled():
        print(f"\n    {line}")


def test_todays_database_migrates_online_under_the_old_version_with_every_row_and_id_kept(
        estate: LocalEstate, history: History, issuer: TestIssuer, db: ConnectionPool,
        capsys: pytest.CaptureFixture[str]) -> None:
    # 1. The old version, deployed by today's deploy: step 4 runs inside the old release and makes today's schema.
    assert lb_version(estate)["version"] == history.old
    first = run_deploy(estate.dir, history.repo, "deploy", "--version", history.old, "--message", "the old version")
    assert first.returncode == 0, first.output
    assert "applied 0001_catalogue_loans_purchases.sql, 0003_reconcile_backoff.sql" in first.output
    assert {r[0] for r in rows(db, "SELECT name FROM schema_migrations")} == OLD_MIGRATIONS
    old_live = estate.live_color()
    new_side = "green" if old_live == "blue" else "blue"
    assert vm_version(estate, new_side) == {"version": history.old}

    # 2. Loans, sales and payments through the old API; every row recorded.
    api = OldApi(estate.layout["lb_url"], issuer)
    copies = seed(api)
    seeded = snapshot(db)
    assert {t: len(seeded[t]) for t in ("books", "loans", "purchases", "payments")} == \
        {"books": 6, "loans": 3, "purchases": 2, "payments": 6}
    states = sorted(r[1:] for r in rows(db, "SELECT payment_id, kind, state FROM payments"))
    assert states == sorted([["borrow_fee", "captured"]] * 3 + [["purchase", "captured"]] * 2 + [["borrow_fee", "failed"]])

    # 3. Under traffic against the old version, the new version's deploy.
    librarian_token = issuer.token("libby", librarian=True)
    traffic = Traffic(estate.layout["lb_url"], deadline_seconds=300)
    added: list[tuple[str, str, float]] = []
    traffic_books = [api.add(f"978{uuid.uuid4().int % 10**9:09d}0", f"Traffic {n}", "Traffic Author") for n in range(3)]
    ids_before = {t: set(r) for t, r in snapshot(db).items()}
    for n, book in enumerate(traffic_books):
        traffic.start(traffic.patron, issuer.token(f"online-patron-{n}"), book)
    for path in ("/books?limit=5", f"/books/{copies[HOBBIT][2]}"):
        traffic.start(traffic.reader, path)
    adder = threading.Thread(target=librarian_adding_copies, args=(traffic, librarian_token, added), daemon=True)
    traffic.threads.append(adder)
    adder.start()
    try:
        deadline = time.monotonic() + 10
        while traffic.count("borrow", "return") < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        run = run_deploy(estate.dir, history.repo, "deploy", "--version", history.new, "--message", "circulation")
        time.sleep(0.5)  # answers from after the switch
    finally:
        traffic.finish()
    failures = traffic.failures()
    applied = next((line.split("applied ", 1)[1] for line in run.output.splitlines() if " applied " in line), "")
    report(capsys, f"{len(traffic.answers)} requests during the online migration and deploy "
                   f"({traffic.count('borrow', 'return')} borrows/returns, {traffic.count('add')} copies added, "
                   f"{traffic.count('GET')} reads), {len(failures)} failed; served by {dict(traffic.served_by())}; "
                   f"migrations applied: {applied}; switch {run.switch_seconds():.2f}s")
    assert run.returncode == 0, run.output
    assert failures == [], failures[:5]
    traffic.assert_ran(300, borrows_returns=20, served_by={old_live, new_side})
    assert traffic.count("add") >= 5
    # Every migration the old version did not have (0002 ... 0007 for circulation, 0008 patrons, ... 0012_search_*).
    pending = [p.name for p in all_migrations() if p.name not in OLD_MIGRATIONS]
    assert applied.split(", ") == pending, run.output
    assert "refused destructive" not in run.output
    assert 0 < run.switch_seconds() < SWITCH_SECONDS_LIMIT, run.output
    assert lb_version(estate)["version"] == history.new and estate.live_color() == new_side

    # 4a. Every row and id kept: the recorded rows as they were (ids, loan/sale/payment states, history).
    after = snapshot(db)
    for table, recorded in seeded.items():
        assert {k: after[table].get(k) for k in recorded} == recorded, table
    for table, ids in ids_before.items():
        assert ids <= set(after[table]), f"{table}: ids lost {sorted(ids - set(after[table]))[:5]}"

    # 4b. Copies of one ISBN are one title, found by the new version's search with its copies.
    new = Client(estate.layout["lb_url"], librarian_token)  # the new version's contract holds
    for isbn, books in copies.items():
        titles = {r[0] for r in rows(db, "SELECT DISTINCT CAST(title_id AS text) FROM books WHERE book_id = "
                                         "ANY(CAST(:ids AS uuid[]))", ids=books)}
        assert len(titles) == 1 and None not in titles, (isbn, titles)
        found = new.get(f"/titles?q={isbn}")
        assert found.status_code == 200, found.text
        (item,) = [i for i in found.json()["items"] if i["isbn"] == isbn]
        assert item["title_id"] in titles
        detail = new.get(f"/titles/{item['title_id']}").json()
        assert set(books) <= {c["book_id"] for c in detail["copies"]}
        if isbn != HOBBIT:  # the librarian added more Hobbits during the deploy
            assert item["copies_total"] == len(books), item
    hobbit = new.get(f"/titles?q={HOBBIT}").json()["items"][0]
    assert hobbit["copies_total"] == 3 + sum(1 for b in added if rows(db, "SELECT 1 FROM books WHERE book_id = "
                                                                           "CAST(:b AS uuid) AND isbn = :i", b=b[0], i=HOBBIT))
    every = new.get("/titles?limit=100")
    assert every.status_code == 200 and every.json()["total"] >= 3 + 3, every.text
    assert rows(db, "SELECT count(*) FROM books WHERE title_id IS NULL") == [[0]]
    assert rows(db, "SELECT bool_and(convalidated) FROM pg_constraint WHERE conrelid IN "
                    "('books'::regclass, 'loans'::regclass, 'payments'::regclass)") == [[True]]

    # 4c. The old version's writes during the window are there, each copy with its title.
    by_old = [b for b in added if b[1] == old_live]
    assert by_old, added
    backfilled_at = rows(db, "SELECT extract(epoch FROM applied_at) FROM schema_migrations "
                             "WHERE name = '0005_circulation_backfill.sql'")[0][0]
    for book_id, _, _ in by_old:
        copy = new.get(f"/books/{book_id}")
        assert copy.status_code == 200 and copy.json()["title_id"], copy.text
        assert book_id in {c["book_id"] for c in new.get(f"/titles/{copy.json()['title_id']}").json()["copies"]}
    by_trigger = rows(db, "SELECT count(*) FROM books WHERE book_id = ANY(CAST(:ids AS uuid[])) "
                          "AND created_at > to_timestamp(:t)", ids=[b[0] for b in by_old], t=float(backfilled_at))[0][0]
    report(capsys, f"copies added during the deploy: {len(added)} ({len(by_old)} by the old version, {by_trigger} of "
                   f"them after 0005 committed, titled by the assign_title trigger); every book has a title")
    assert by_trigger > 0

    # 4d. The old VM, the failover, still serves the old version on the migrated schema.
    assert vm_version(estate, old_live) == {"version": history.old}
    assert estate.vm_probe(old_live, "/ready").status == 200
    assert requests.get(f"http://127.0.0.1:{estate.layout['vms'][old_live]['nginx_port']}/books/{copies[DUNE][0]}",
                        timeout=10).status_code == 200
