"""What the instance's server serves: `vm_runtime.wsgi:application` (vm_runtime/serve.py).

Settings are read and every handler imported here, at start-up: a missing or bad setting
stops the worker from booting with a message naming it (so the instance never turns
healthy and systemd/the deploy see it), instead of failing requests one by one.
"""

from pathlib import Path

from lending_aws import bootstrap
from lending_http.service import Service
from vm_runtime.adapter import LendingApp

bootstrap()  # settings held in AWS, read before serving
service = Service.of(Path(__file__).resolve().parent.parent / "functions").load()
service.deps.settings  # noqa: B018 - read (and check) the settings now
application = LendingApp(service)
