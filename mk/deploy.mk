# Blue/green deploys of the VM estate (deploy/). DEPLOY_TARGET=aws (default; STACK=<estate stack>)
# or local (the estate of `make estate-local`). See docs/deploying.md.
LB_PORT ?= 8088
DEPLOY_TARGET ?= aws
export LB_PORT DEPLOY_TARGET

DEPLOY_OPTIONS = --target $(DEPLOY_TARGET) $(if $(VERSION),--version $(VERSION)) \
	$(if $(MESSAGE),--message "$(MESSAGE)") $(if $(LOCK_WAIT),--lock-wait $(LOCK_WAIT)) \
	$(if $(LOCK_LEASE),--lock-lease $(LOCK_LEASE)) \
	$(if $(BREAK_LOCK),--break-lock) $(if $(GATE_TIMEOUT),--gate-timeout $(GATE_TIMEOUT)) \
	$(if $(VERIFY_TIMEOUT),--verify-timeout $(VERIFY_TIMEOUT))

.PHONY: estate-local deploy-vm rollback-vm deploy-status deploy-break-lock image image-prerequisites deploy-lint test-deploy

estate-local: $(STAMP)  ## load balancer on LB_PORT + VM blue + VM green, on make run's defaults
	$(PY) -m deploy.local

deploy-vm: $(STAMP)  ## deploy the commit (VERSION, default HEAD) to the idle VM, then switch
	$(PY) -m deploy deploy $(DEPLOY_OPTIONS)

rollback-vm: $(STAMP)  ## switch the load balancer back to the other VM at once (FORCE=1: even if not ready)
	$(PY) -m deploy rollback $(DEPLOY_OPTIONS) $(if $(FORCE),--force)

deploy-status: $(STAMP)  ## live/idle VM, versions, lock, last audit entries
	$(PY) -m deploy status --target $(DEPLOY_TARGET)

deploy-break-lock: $(STAMP)  ## remove a stale deploy lock now, not waiting for its lease (recorded in the audit log)
	$(PY) -m deploy break-lock --target $(DEPLOY_TARGET)

# BASE=local: on a base made here from Debian's packages (no registry needed); PUSH=registry/repo:tag pushes it;
# SAVE=file.tar writes it to an archive (`podman load` reads it: CI builds without credentials, pushes elsewhere).
image: $(STAMP) ui-build
	$(PY) -m deploy.image build $(if $(VERSION),--version $(VERSION)) $(if $(BASE),--base $(BASE)) \
		$(if $(PUSH),--push $(PUSH)) $(if $(SAVE),--save $(SAVE))

# What an image build fetches (Debian's packages for the local base, the wheels), fetched ahead and
# cached under /var/tmp, so that the image test fetches nothing. Part of make test: if they cannot be
# made, make test stops here with the reason (a skipped image test would fail it later anyway).
image-prerequisites: $(STAMP)
	@$(PY) -m deploy.image prerequisites || { echo "make image-prerequisites failed (the reason is above): the image test cannot run" >&2; exit 1; }

deploy-lint: $(STAMP)  ## ruff + mypy --strict on deploy/, actionlint (+ shellcheck) on the workflows
	$(VENV)/bin/ruff check deploy tests/deploy
	$(VENV)/bin/mypy --strict --follow-imports=silent deploy  # the layers are make lint's
	@command -v shellcheck >/dev/null || { echo "shellcheck is missing (apt-get install shellcheck)"; exit 1; }
	$(VENV)/bin/actionlint -no-color

test-deploy: $(STAMP) image-prerequisites
	$(PY) -m pytest tests/deploy -q

TEST_CHECKS += deploy-lint image-prerequisites
