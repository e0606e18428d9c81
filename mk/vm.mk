# VM runtime (vm_runtime/): one VM's worth locally, and the checks of its deploy files.
VM_PORT ?= 8080
export VM_PORT

.PHONY: vm-local vm-lint test-vm

vm-local: $(STAMP)  ## nginx on VM_PORT + two app instances (granian), on make run's defaults
	$(PY) -m dev.vm_local

vm-lint: $(STAMP)  ## hadolint the Dockerfile, nginx -t the site, systemd-analyze verify the unit
	$(VENV)/bin/ruff check vm_runtime tests/vm
	$(VENV)/bin/mypy vm_runtime
	$(PY) -m vm_runtime.checks

test-vm: $(STAMP)
	$(PY) -m pytest tests/vm -q

$(STAMP): vm_runtime/requirements.txt
TEST_CHECKS += vm-lint
