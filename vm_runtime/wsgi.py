"""What gunicorn serves: `gunicorn vm_runtime.wsgi:application` (see vm_runtime/command.py).

Settings are read and every handler imported here, at start-up: a missing or bad setting
stops the worker from booting with a message naming it (so the instance never turns
healthy and systemd/the deploy see it), instead of failing requests one by one.
"""

from lending.config import settings
from vm_runtime.adapter import LendingApp
from vm_runtime.routes import RouteTable

settings()
routes = RouteTable.load()
routes.load_handlers()
application = LendingApp(routes)
