"""The one Celery app. Broker: Redis in production and tests, a filesystem queue locally."""

import os
import time

from celery import Celery, Task
from celery.signals import task_postrun, task_prerun

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


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(task: Task | None = None, **kwargs: object) -> None:
    """With connections reused (CELERY_DB_REUSE_MAX), drop the ones broken or past
    CONN_MAX_AGE around each task, as Django does around each request. Not for eager tasks:
    they run inside their caller's transaction."""
    if task is None or getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


@app.task(name="simdesk.heartbeat", ignore_result=True)
def heartbeat() -> float:
    """Record that a worker is alive and consuming; /healthz reports its age."""
    from django.core.cache import cache

    now = time.time()
    cache.set(HEARTBEAT_CACHE_KEY, now, timeout=None)
    return now
