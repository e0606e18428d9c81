"""GET /health (alive, no database), GET /ready (database answers, schema current), GET /version."""

from lending.errors import DatabaseUnavailable, NotFound
from lending_http import Call, Response, operation


@operation("health")
def handle(call: Call) -> Response:
    path = call.request.path
    if path.endswith("/health"):
        return Response(200, {"status": "ok"})
    if path.endswith("/version"):
        return Response(200, {"version": call.settings.version})
    if path.endswith("/ready"):
        call.store.ping()
        if not call.store.schema_current():
            raise DatabaseUnavailable("Database migrations are not current.")
        return Response(200, {"status": "ready", "version": call.settings.version})
    raise NotFound(f"No route {path}.")
