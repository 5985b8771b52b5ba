"""A real Celery worker killed in the middle of a card renewal: after the gateway charged the
card and before our capture was written. The next worker, started by the sweep, resumes the
same charge: one charge at the gateway, one captured payment, one new period.

Run with CELERY_BROKER_URL set to a Redis database of your own: the test empties it.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from celery import Celery
from django.conf import settings
from django.db import connection

from billing.models import JournalEntry, OrderLine, Payment, Renewal, SandboxCharge
from billing.services.renewals import renewals_open
from catalog.models import Bundle
from tests.billing.order_support import plan_for_sale
from tests.billing.renewal_support import renewable_card
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _broker_url() -> str:
    url = os.environ.get("CELERY_BROKER_URL") or settings.CELERY_BROKER_URL
    if not url.startswith("redis://"):
        pytest.skip("needs a Redis broker (CELERY_BROKER_URL)")
    return url


def _test_database_url() -> str:
    """DATABASE_URL pointing at the test database (pytest-django's test_<name>)."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


def _psycopg_dsn() -> str:
    s = connection.settings_dict
    return (
        f"host={s['HOST']} port={s['PORT'] or 5432} dbname={s['NAME']} "
        f"user={s['USER']} password={s['PASSWORD']}"
    )


def _flush(broker: str) -> None:
    import redis

    client = redis.Redis.from_url(broker)
    client.flushdb()
    client.close()


class Workers:
    """Start workers; always stopped at the end, killed if they hang."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool=solo",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "-l",
                "WARNING",
            ],
            cwd=ROOT,
            env={**os.environ, **self.env},
        )
        self.running.append(worker)
        return worker

    def stop_all(self) -> None:
        for worker in self.running:
            if worker.poll() is None:
                worker.terminate()
                try:
                    worker.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()


def wait_until(check: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
def workers() -> Iterator[Workers]:
    broker = _broker_url()
    _flush(broker)
    pool = Workers({"CELERY_BROKER_URL": broker, "DATABASE_URL": _test_database_url()})
    try:
        yield pool
    finally:
        pool.stop_all()
        _flush(broker)


def _blocked_on_journal(lock: psycopg.Connection) -> bool:
    """Another session waits for the journal table's lock."""
    row = lock.execute(
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
        " WHERE c.relname = 'billing_journalentry' AND NOT l.granted"
        " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    ).fetchone()
    return bool(row and row[0])


def test_a_worker_killed_after_the_card_was_charged_never_charges_it_twice(workers):
    plan = plan_for_sale(price="15.00")
    customer = UserFactory()
    profile, bundle = renewable_card(customer, plan, ends_in=timedelta(hours=10), card=True)
    assert renewals_open() == 1
    renewal = Renewal.objects.get()
    # Not the current app: shared tasks in the tests after this one must stay eager.
    producer = Celery("producer", broker=_broker_url(), set_as_current=False)

    # Hold the journal: the worker charges the card, then waits to write the capture.
    lock = psycopg.connect(_psycopg_dsn())
    try:
        lock.execute("LOCK TABLE billing_journalentry IN EXCLUSIVE MODE")
        first = workers.start()
        producer.send_task("billing.renewal_attempt_task", args=[renewal.pk])

        def charged() -> SandboxCharge | None:
            payment_id = Renewal.objects.values_list("payment_id", flat=True).get(pk=renewal.pk)
            if payment_id is None:
                return None
            reference = str(Payment.objects.get(pk=payment_id).public_id)
            return SandboxCharge.objects.filter(
                reference=reference, status=SandboxCharge.Status.SUCCEEDED
            ).first()

        charge = wait_until(charged, 30, "the gateway charge")
        wait_until(lambda: _blocked_on_journal(lock), 10, "the worker to wait for the journal")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        lock.rollback()  # releases the table
        lock.close()

    renewal.refresh_from_db()
    assert renewal.status == Renewal.Status.DUE
    payment = Payment.objects.get(pk=renewal.payment_id)
    assert payment.is_open  # our side never heard of the capture
    assert not JournalEntry.objects.filter(idempotency_key=f"payment:{payment.pk}:capture").exists()

    workers.start()
    producer.send_task("billing.renewals_sweep_task")
    wait_until(
        lambda: Renewal.objects.filter(pk=renewal.pk, status=Renewal.Status.SUCCEEDED).exists(),
        30,
        "the renewal to succeed",
    )

    renewal.refresh_from_db()
    assert renewal.paid_with == Renewal.PaidWith.CARD
    assert renewal.payment_id == payment.pk
    renewal_payments = Payment.objects.filter(order__lines__kind=OrderLine.Kind.RENEWAL)
    assert renewal_payments.count() == 1
    assert renewal_payments.get().status == Payment.Status.SUCCEEDED
    assert SandboxCharge.objects.filter(customer_ref=payment.gateway_customer_id).count() == 2
    assert SandboxCharge.objects.filter(reference=str(payment.public_id)).get().pk == charge.pk
    assert JournalEntry.objects.filter(idempotency_key=f"payment:{payment.pk}:capture").count() == 1
    new = Bundle.objects.filter(profile=profile, status=Bundle.Status.QUEUED)
    assert new.count() == 1
    assert new.get().starts_at == bundle.ends_at
