# Mutation testing (tests/mutation/, docs/testing.md#mutation-testing): not part of `make test` (too slow);
# CI runs it nightly and on demand. MODULES="resume idempotency" runs those of tests/mutation/targets.toml;
# MUTATE_JOBS=2 mutates two modules at once (each in its own copy of the tree).
.PHONY: mutate
MUTATE_STAMP := $(VENV)/.mutate-installed

$(MUTATE_STAMP): $(STAMP) requirements-mutate.txt
	$(PY) -m pip install --quiet -r requirements-mutate.txt
	@touch $(MUTATE_STAMP)

mutate: $(MUTATE_STAMP)
	$(PY) -m tests.mutation.run --jobs $(or $(MUTATE_JOBS),1) $(MODULES)
