"""GET /health (alive, no database), GET /ready (database answers, schema current), GET /version."""

from lending.errors import DatabaseUnavailable, NotFound
from lending_http import Call, Response, operation


@operation("health")
def handle(call: Call) -> Response:
    request, config = call.request, call.settings
    if request.path.endswith("/health"):
        return Response(200, {"status": "ok"})
    if request.path.endswith("/version"):
        return Response(200, {"version": config.version})
    if request.path.endswith("/ready"):
        store = call.store
        store.ping()
        if not store.schema_current():
            raise DatabaseUnavailable("Database migrations are not current.")
        return Response(200, {"status": "ready", "version": config.version})
    raise NotFound(f"No route {request.path}.")
