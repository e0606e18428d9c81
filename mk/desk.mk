# The librarian's desk (docs/desk.md).
.PHONY: import

# Import a catalogue file (MARC 21, MARCXML or CSV) into DATABASE_URL, or a running `make run`'s.
# make import FILE=catalogue.mrc [FORMAT=marc|marcxml|csv]
import: $(STAMP)
	@test -n "$(FILE)" || { echo "usage: make import FILE=path [FORMAT=marc|marcxml|csv]"; exit 2; }
	@if [ -z "$$DATABASE_URL" ] && [ -f .run/dev.env ]; then set -a; . ./.run/dev.env; set +a; fi; \
	$(PY) -m ops.import_catalogue "$(FILE)" $(if $(FORMAT),--format $(FORMAT),)
