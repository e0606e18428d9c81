"""GET /health (alive, no database), GET /ready (database answers, schema current), GET /version."""

from lending.config import settings
from lending.errors import DatabaseUnavailable, NotFound
from lending.http import Request, Response, endpoint
from lending_observability import instrument
from lending_postgres import store_from


@instrument("health")
@endpoint
def handle(request: Request) -> Response:
    if request.path.endswith("/health"):
        return Response(200, {"status": "ok"})
    config = settings()
    if request.path.endswith("/version"):
        return Response(200, {"version": config.version})
    if request.path.endswith("/ready"):
        store = store_from(config)
        store.ping()
        if not store.schema_current():
            raise DatabaseUnavailable("Database migrations are not current.")
        return Response(200, {"status": "ready", "version": config.version})
    raise NotFound(f"No route {request.path}.")
