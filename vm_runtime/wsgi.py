"""What gunicorn serves: `gunicorn vm_runtime.wsgi:application` (see vm_runtime/command.py).

Settings are read and every handler imported here, at start-up: a missing or bad setting
stops the worker from booting with a message naming it (so the instance never turns
healthy and systemd/the deploy see it), instead of failing requests one by one.
"""

import importlib

from lending.config import settings
from vm_runtime.adapter import LendingApp
from vm_runtime.routes import RouteTable


def _read_settings() -> None:
    """As app.py does before serving: settings held in AWS (the aws layer, when this tree has it) first."""
    try:
        aws = importlib.import_module("lending_aws")
    except ModuleNotFoundError:
        aws = None
    if aws is not None:
        aws.bootstrap()
    settings()


_read_settings()
routes = RouteTable.load()
routes.load_handlers()
application = LendingApp(routes)
