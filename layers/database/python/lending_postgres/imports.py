"""An import's batch on PostgreSQL: titles matched by ISBN, copies by barcode, one transaction a batch.

What exists is read for the whole batch in two statements; a record that changes nothing writes
nothing (so a second run of a file is two reads per batch). A record that does write gets a
savepoint, so one the database refuses is rejected alone and the batch goes on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pg8000.native
from pg8000.exceptions import DatabaseError

from lending_postgres.connection import ConnectionPool
from lending_postgres.desk import insert_copy, insert_title, update_title

if TYPE_CHECKING:  # loaded by the import's own first call (see desk.py)
    from lending.desk_model import CheckedRecord, TitleChanges

_TITLES = ("SELECT isbn, title_id::text, title, author, publication_year, language FROM titles "
           "WHERE isbn = ANY(CAST(:i AS text[]))")
_COPIES = ("SELECT barcode, title_id::text, price_cents, borrow_fee_cents, currency FROM books "
           "WHERE barcode = ANY(CAST(:b AS text[]))")


class RecordRefused(Exception):
    pass


def _title_changes(record: CheckedRecord, known: list[Any]) -> TitleChanges | None:
    from lending.desk_model import TitleChanges

    t = record.title
    changed: dict[str, Any] = {name: new for name, new, old in (("title", t.title, known[2]), ("author", t.author, known[3]),
                                                ("publication_year", t.publication_year, known[4]),
                                                ("language", t.language, known[5]))
               if new is not None and new != old}
    return TitleChanges(**changed) if changed else None


class CatalogueImports:
    pool: ConnectionPool

    def import_batch(self, records: list[CheckedRecord]) -> list[str]:
        with self.pool.transaction() as c:
            titles = {r[0]: list(r) for r in c.run(_TITLES, i=sorted({r.title.isbn for r in records}))}
            barcodes = sorted({copy.barcode for r in records for copy in r.copies if copy.barcode})
            copies = {r[0]: list(r) for r in c.run(_COPIES, b=barcodes)} if barcodes else {}
            return [self._one(c, record, titles, copies) for record in records]

    def _one(self, c: pg8000.native.Connection, record: CheckedRecord, titles: dict[str, list[Any]],
             copies: dict[str, list[Any]]) -> str:
        known = titles.get(record.title.isbn)
        changes = _title_changes(record, known) if known else None
        to_add, to_change = [], []
        for copy in record.copies:
            have = copies.get(copy.barcode or "")
            if have is None:
                to_add.append(copy)
            elif known is None or have[1] != known[1]:
                return f"rejected: barcode {copy.barcode} belongs to a copy of another title"
            elif (have[2], have[3]) != (copy.price_cents, copy.borrow_fee_cents):
                to_change.append(copy)
        if known is not None and changes is None and not to_add and not to_change:
            return "unchanged"
        created = known is None
        c.run("SAVEPOINT import_record")
        try:
            if known is None:
                title_id = insert_title(c, record.title)
                known = [record.title.isbn, title_id, record.title.title, record.title.author,
                         record.title.publication_year, record.title.language]
            elif changes is not None:
                update_title(c, known[1], changes)
                known = [known[0], known[1], *(getattr(changes, f) if getattr(changes, f) is not None else known[i]
                                              for i, f in enumerate(("title", "author", "publication_year",
                                                                     "language"), start=2))]
            seen = {}  # what this record wrote, known to the batch's next records once it stands
            for copy in to_add + to_change:
                if copy in to_add:
                    row = insert_copy(c, known[1], copy)
                else:
                    row = c.run("UPDATE books SET price_cents = :p, borrow_fee_cents = :f WHERE barcode = :b "
                                "RETURNING book_id, title_id::text, barcode, price_cents, borrow_fee_cents, currency",
                                p=copy.price_cents, f=copy.borrow_fee_cents, b=copy.barcode)[0]
                seen[row[2]] = [row[2], row[1], row[3], row[4], row[5]]
        except DatabaseError as exc:
            c.run("ROLLBACK TO SAVEPOINT import_record")
            detail = exc.args[0].get("M", "refused") if exc.args and isinstance(exc.args[0], dict) else "refused"
            return f"rejected: the database refused it ({detail})"
        c.run("RELEASE SAVEPOINT import_record")
        titles[record.title.isbn] = known
        copies.update(seen)
        return "created" if created else "updated"
