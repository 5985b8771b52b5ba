"""`/healthz`: 200 when the database and the broker answer, 503 naming what is down."""

import os
import time

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from .celery_app import HEARTBEAT_CACHE_KEY, app


def _database_up() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        return False


def _broker_up() -> bool:
    options = app.conf.broker_transport_options or {}
    try:
        if app.conf.broker_url.startswith("filesystem://"):
            # The worker polls this folder; the broker is "up" when messages can be written.
            folder = str(options.get("data_folder_in", ""))
            return os.path.isdir(folder) and os.access(folder, os.W_OK)
        with app.connection_for_write() as conn:
            # Opening a Redis channel pings the server.
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
        return True
    except Exception:
        return False


def _heartbeat_age() -> float | None:
    try:
        beat = cache.get(HEARTBEAT_CACHE_KEY)
    except Exception:
        return None
    return round(time.time() - beat, 1) if beat else None


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database_up(), "broker": _broker_up()}
    down = [name for name, up in checks.items() if not up]
    body = {
        "status": "ok" if not down else "unavailable",
        **{name: "up" if up else "down" for name, up in checks.items()},
        "down": down,
        # Informational: seconds since a worker last ran the heartbeat task.
        "worker_heartbeat_age_seconds": _heartbeat_age(),
    }
    return JsonResponse(body, status=503 if down else 200)
