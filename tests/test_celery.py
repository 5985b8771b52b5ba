"""A real Celery worker runs our tasks: on Redis (production, tests) and on the filesystem queue."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery import Celery
from django.core.cache import cache

from config.celery_app import HEARTBEAT_CACHE_KEY, app, heartbeat

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.worker


def start_worker(extra_env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "-l", "WARNING"],
        cwd=ROOT,
        env={**os.environ, **extra_env},
    )


def stop(worker: subprocess.Popen[bytes]) -> None:
    worker.terminate()
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


def wait_for_heartbeat(after: float, timeout: float = 30) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        beat = cache.get(HEARTBEAT_CACHE_KEY)
        if beat and beat >= after:
            return beat
        time.sleep(0.2)
    return None


def test_configuration_is_json_with_time_limits():
    assert app.conf.task_serializer == "json"
    assert app.conf.accept_content == ["json"]
    assert app.conf.task_time_limit and app.conf.task_soft_time_limit
    assert app.conf.broker_url.startswith("redis://")
    assert "simdesk.heartbeat" in app.conf.beat_schedule["worker-heartbeat"]["task"]


def test_worker_runs_a_task_sent_through_redis():
    worker = start_worker({})
    try:
        sent_at = time.time()
        app.send_task(heartbeat.name)
        assert wait_for_heartbeat(sent_at) is not None
    finally:
        stop(worker)


def test_worker_runs_a_task_sent_through_the_filesystem_queue(tmp_path):
    """The broker of `make run`: no server, messages are files."""
    broker_dir = tmp_path / "broker"
    options = {
        "data_folder_in": str(broker_dir / "queue"),
        "data_folder_out": str(broker_dir / "queue"),
        "processed_folder": str(broker_dir / "processed"),
        "control_folder": str(broker_dir / "control"),
    }
    for folder in options.values():
        os.makedirs(folder, exist_ok=True)
    worker = start_worker({"CELERY_BROKER_URL": "filesystem://", "BROKER_DIR": str(broker_dir)})
    try:
        producer = Celery("producer", broker="filesystem://")
        producer.conf.broker_transport_options = options
        sent_at = time.time()
        producer.send_task("simdesk.heartbeat")
        assert wait_for_heartbeat(sent_at) is not None
    finally:
        stop(worker)
