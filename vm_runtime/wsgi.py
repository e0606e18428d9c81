"""What gunicorn serves: `gunicorn vm_runtime.wsgi:application` (see vm_runtime/command.py)."""

from vm_runtime.adapter import LendingApp
from vm_runtime.routes import RouteTable

routes = RouteTable.load()
routes.load_handlers()
application = LendingApp(routes)
