# API contract, fuzzing and benchmarks (functions/docs/openapi.json, tests/api, bench/).
.PHONY: bench api-contract

# Borrow->return throughput vs pgbench, CPU split, 300 ms processor delay, cold imports, catalogue search.
# BENCH_CLIENTS=16 BENCH_SECONDS=10 BENCH_DELAY_MS=300 BENCH_DELAY_CLIENTS=256 BENCH_PROFILE=1 BENCH_SKIP=vm,delay,...
bench: $(STAMP)
	@mkdir -p .run
	$(PY) -m bench

# The contract is a valid OpenAPI 3.1 document (the tests check the code keeps to it).
api-contract: $(STAMP)
	@$(PY) -c "import json; from openapi_spec_validator import validate; validate(json.load(open('functions/docs/openapi.json'))); print('functions/docs/openapi.json: valid OpenAPI 3.1')"

TEST_CHECKS += api-contract

# Seed N titles (default 100000) into DATABASE_URL (or a running `make run`'s) and time the catalogue search.
.PHONY: seed-titles
seed-titles: $(STAMP)
	$(PY) -m bench.seed_titles $(or $(N),100000)

.PHONY: bench-search bench-import
# The import phase alone: BENCH_IMPORT_RECORDS=10000 MARC records as POST /imports through one VM (bench/imports.py).
bench-import: $(STAMP)
	@mkdir -p .run
	BENCH_SKIP=pgbench,chalice,vm,vm-before,plain,delay,cold,statements,search $(PY) -m bench

# The catalogue search alone (bench/search.py): BENCH_SEARCH_TITLES=100000 BENCH_SEARCH_CLIENTS=1,4 BENCH_SECONDS=10.
bench-search: $(STAMP)
	@mkdir -p .run
	BENCH_SKIP=pgbench,chalice,vm,vm-before,plain,delay,cold,statements,import $(PY) -m bench
