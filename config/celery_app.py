"""The one Celery app. Broker: Redis in production and tests, a filesystem queue locally."""

import os
import time

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("simdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

HEARTBEAT_CACHE_KEY = "simdesk:worker-heartbeat"


@app.on_after_finalize.connect
def _ensure_broker_folders(sender: Celery, **kwargs: object) -> None:
    # The filesystem transport needs its folders before the first publish.
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            os.makedirs(options[key], exist_ok=True)


@app.task(name="simdesk.heartbeat", ignore_result=True)
def heartbeat() -> float:
    """Record that a worker is alive and consuming; /healthz reports its age."""
    from django.core.cache import cache

    now = time.time()
    cache.set(HEARTBEAT_CACHE_KEY, now, timeout=None)
    return now
