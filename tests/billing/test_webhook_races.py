"""Gateways deliver events at least once, in any order, from many connections at once.
100 events, each delivered 5 times in shuffled order by 8 concurrent senders, over HTTP to
the live server: every delivery is answered 2xx and exactly 100 credits are posted."""

import os
import random
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connection

from billing.models import GatewayEvent, JournalEntry, Payment
from billing.services.wallets import wallet_get
from config.celery_app import app
from tests.billing.payment_support import payment_make, session_event, signed
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]
EVENTS, DELIVERIES, SENDERS, CUSTOMERS = 100, 5, 8, 4


def _deliver(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json", **headers}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return int(response.status)


def _storm(live_server) -> tuple[list[Payment], list[int]]:
    customers = [UserFactory() for _ in range(CUSTOMERS)]
    payments = [
        payment_make(customers[i % CUSTOMERS], f"{10 + i}.00", bonus="1.00") for i in range(EVENTS)
    ]
    # Each payment's success event, signed once (as a gateway retries the same delivery).
    deliveries = [signed(session_event(p)) for p in payments] * DELIVERIES
    random.Random(5).shuffle(deliveries)
    url = f"{live_server.url}/pay/webhooks/sandbox/"
    with ThreadPoolExecutor(max_workers=SENDERS) as pool:
        statuses = list(pool.map(lambda d: _deliver(url, *d), deliveries))
    return payments, statuses


def _assert_exactly_once(payments: list[Payment]) -> None:
    assert GatewayEvent.objects.count() == EVENTS
    assert JournalEntry.objects.filter(kind=JournalEntry.Kind.TOPUP).count() == EVENTS
    for payment in payments:
        payment.refresh_from_db()
        assert payment.status == Payment.Status.SUCCEEDED
    expected: Counter = Counter()
    for payment in payments:
        expected[payment.customer] += payment.amount + payment.bonus
    for customer, total in expected.items():
        assert wallet_get(user=customer, currency="USD").balance == total


@pytest.mark.django_db(transaction=True)
def test_shuffled_duplicate_deliveries_from_eight_senders_credit_each_payment_once(live_server):
    """Processing runs in the server's request threads after each commit (eager Celery), so
    up to eight processings race for the same payment and wallet."""
    payments, statuses = _storm(live_server)
    assert len(statuses) == EVENTS * DELIVERIES
    assert all(200 <= s < 300 for s in statuses)
    _assert_exactly_once(payments)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_same_storm_processed_by_a_real_celery_worker(live_server):
    """The endpoint only stores and enqueues; a real worker (2 processes, on Redis) processes."""
    test_db = connection.settings_dict["NAME"]
    base = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-c", "2", "-l", "WARNING"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": f"{base}/{test_db}"},
    )
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        payments, statuses = _storm(live_server)
        assert all(200 <= s < 300 for s in statuses)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            done = GatewayEvent.objects.filter(status=GatewayEvent.Status.PROCESSED).count()
            if done == EVENTS:
                break
            time.sleep(0.2)
        _assert_exactly_once(payments)
    finally:
        app.conf.task_always_eager = eager
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
