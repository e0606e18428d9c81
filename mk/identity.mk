# Identity (auth layer): its tests alone. They also run in `make test` (pytest tests).
.PHONY: test-auth
test-auth: $(STAMP)
	$(PY) -m pytest tests/auth -q
