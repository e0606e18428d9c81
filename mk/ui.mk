# The web UI (web/): built with esbuild from npm into web/dist, a plain static directory.
# `make run` builds it first; nothing is fetched at run time (npm ci only when the lockfile changes).
NPM ?= npm
WEB_SOURCES := $(wildcard web/src/*.js web/src/*/*.js web/src/*.css) web/index.html web/build.mjs
WEB_DIST := web/dist/index.html

.PHONY: ui-build ui-build-if-possible test-ui

web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	@command -v $(NPM) >/dev/null || { echo "npm is needed to build the web UI (Node.js 18+ with npm)"; exit 1; }
	cd web && $(NPM) ci --no-audit --no-fund --loglevel=error

$(WEB_DIST): web/node_modules/.package-lock.json $(WEB_SOURCES)
	cd web && $(NPM) run --silent build

ui-build: $(WEB_DIST)

# `make run` serves the API with or without Node.js; the UI needs npm once, to build.
ui-build-if-possible:
	@if command -v $(NPM) >/dev/null; then $(MAKE) --no-print-directory ui-build; \
	else echo "note: npm not found - the API runs, the web UI is not built (install Node.js 18+ with npm)"; fi

run: ui-build-if-possible

test-ui: $(STAMP) ui-build
	$(PY) -m pytest tests/ui -q

TEST_CHECKS += ui-build
