"""Figure `auto_renewals`: a sweep over 10,000 due auto-renewals paid from wallets, charged by
a real Celery worker with 2 processes; the goal (issue #7) is 60 s or less.

Setup: CARDS customers, each with a USD wallet holding FUNDING and one sold eSIM whose running
bundle ends within the renewal lead time, auto-renewal on to the same plan. Users, wallets,
cards, bundles and auto-renewals are bulk-inserted; the funding is one counter top-up entry
per wallet (cash on hand -> wallet) written by SQL and checked with `ledger_problems()`.

The measurement starts a `celery worker --pool=prefork --concurrency=2` on the bench's Redis
and waits until it answers a ping. Then, timed: `renewals_sweep_task` runs in this process
(it opens the Renewal rows and queues one `renewal_attempt_task` each in Redis) and the clock
stops when no Renewal is due any more (the database is polled). The worker is stopped by its
PID, also on failure. The receipts the renewals queued are not waited for; they are deleted.

Before the worker starts, two more cards (PROBES) are renewed in this process, untimed: one
to warm up, one counted with `CaptureQueriesContext` (`queries_per_renewal`). Their periods
are then covered, so the sweep does not open them again.

The figure fails unless exactly CARDS renewals succeeded from the wallet on the first attempt,
with one journal entry keyed by each renewal's key, one fulfilled order and one new queued
bundle per card, every wallet holding FUNDING - PRICE, and a consistent ledger.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:  # bench.figures imports this module
    from redis import Redis

    from bench.figures import BenchContext, Measurement

CARDS = 10_000
PROBES = 2  # renewed in this process before the sweep: a warm-up, then the query count
GOAL_SECONDS = 60
WORKER_PROCESSES = 2
CURRENCY = "USD"
PRICE = Decimal("10.00")
WHOLESALE = Decimal("3.20")
FUNDING = Decimal("100.00")
PLAN_CODE = "bench-renew-jp-5gb"
EMAIL = "bench-renew-{n:05d}@example.com"
FUNDING_KEY = "bench-renew-funding-"
ICCID_PREFIX = "8933"  # bench.orders' cards start 8944, bench.catalog_import's 8986
ENDS_IN = timedelta(hours=12)  # within SIMDESK_RENEWAL_LEAD_HOURS (24) of now
BATCH = 2_000
WORKER_START_TIMEOUT = 60
MAX_SECONDS = 900  # the figure fails rather than wait longer
STALL_SECONDS = 60  # ... or when no renewal finished for this long
POLL_SECONDS = 0.2


class RenewalsInconsistent(RuntimeError):
    """The renewals, orders, bundles, wallets or ledger are not what the sweep should leave."""


# One counter top-up entry per wallet, each with its two postings: cash on hand -> wallet.
FUNDING_SQL = """
WITH wallets AS (
    SELECT id FROM billing_ledgeraccount WHERE id = ANY(%(wallets)s)
), entries AS (
    INSERT INTO billing_journalentry (kind, memo, created_at, idempotency_key)
    SELECT %(kind)s, 'bench: auto-renewal funding', now(), %(prefix)s || w.id
      FROM wallets w
     ORDER BY w.id
    RETURNING id, idempotency_key
)
INSERT INTO billing_posting (entry_id, account_id, amount, currency)
SELECT e.id, l.account_id, l.amount, %(currency)s
  FROM entries e
  JOIN wallets w ON e.idempotency_key = %(prefix)s || w.id
 CROSS JOIN LATERAL (VALUES (w.id, -%(amount)s::numeric),
                            (%(cash)s::bigint, %(amount)s::numeric)) AS l(account_id, amount)
 ORDER BY e.id, l.account_id
"""


def setup(ctx: "BenchContext") -> None:
    """CARDS + PROBES funded customers, each with a card due for auto-renewal."""
    from django.db import connection, transaction
    from django.utils import timezone
    from djmoney.money import Money

    from accounts.models import User
    from bench.ledger import BALANCES_SQL, _check_ledger
    from billing.chart import wallet_fields
    from billing.models import AutoRenewal, JournalEntry, LedgerAccount
    from billing.services.ledger import system_account_get
    from catalog.models import Bundle, EsimProfile, Plan, PlanPrice
    from catalog.validation import luhn_check_digit

    start = time.perf_counter()
    total = CARDS + PROBES
    cost = cast(Any, Money(WHOLESALE, CURRENCY))
    now = timezone.now()
    ends = now + ENDS_IN
    with transaction.atomic():
        plan = Plan.objects.create(
            code=PLAN_CODE,
            name="Japan 5 GB (bench renewals)",
            country="JP",
            data_mb=5120,
            validity_days=30,
            wholesale_cost=cost,
            renewable=True,
        )
        PlanPrice.objects.create(plan=plan, price=cast(Any, Money(PRICE, CURRENCY)))
        users = User.objects.bulk_create(
            [User(email=EMAIL.format(n=n), password="!bench") for n in range(total)],
            batch_size=BATCH,
        )
        wallets = LedgerAccount.objects.bulk_create(
            [LedgerAccount(**wallet_fields(user.pk, CURRENCY)) for user in users],
            batch_size=BATCH,
        )
        profiles = []
        for n, user in enumerate(users):
            payload = f"{ICCID_PREFIX}{n:014d}"
            profiles.append(
                EsimProfile(
                    iccid=payload + luhn_check_digit(payload),
                    smdp_address="smdp.bench.example.com",
                    matching_id=f"BENCH-RENEW-{n:08d}",
                    plan=plan,
                    wholesale_cost=cost,
                    status=EsimProfile.Status.ASSIGNED,
                    owner=user,
                )
            )
        profiles = EsimProfile.objects.bulk_create(profiles, batch_size=BATCH)
        Bundle.objects.bulk_create(
            [
                Bundle(
                    profile=profile,
                    plan=plan,
                    data_allowance_mb=plan.data_mb,
                    status=Bundle.Status.ACTIVE,
                    starts_at=ends - timedelta(days=plan.validity_days),
                    ends_at=ends,
                )
                for profile in profiles
            ],
            batch_size=BATCH,
        )
        AutoRenewal.objects.bulk_create(
            [
                AutoRenewal(profile=profile, customer=user, plan=plan, currency=CURRENCY)
                for profile, user in zip(profiles, users, strict=True)
            ],
            batch_size=BATCH,
        )
        cash = system_account_get(purpose=LedgerAccount.Purpose.CASH_ON_HAND, currency=CURRENCY)
        wallet_ids = [wallet.pk for wallet in wallets]
        with connection.cursor() as cursor:
            cursor.execute(
                FUNDING_SQL,
                {
                    "wallets": wallet_ids,
                    "kind": JournalEntry.Kind.COUNTER_TOPUP.value,
                    "prefix": FUNDING_KEY,
                    "currency": CURRENCY,
                    "amount": FUNDING,
                    "cash": cash.pk,
                },
            )
            if cursor.rowcount != 2 * total:
                raise RuntimeError(
                    f"funding wrote {cursor.rowcount} postings, expected {2 * total}"
                )
            cursor.execute(BALANCES_SQL, [[*wallet_ids, cash.pk]])
    with connection.cursor() as cursor:  # outside a transaction, as VACUUM must be
        cursor.execute(
            "VACUUM ANALYZE accounts_user, billing_ledgeraccount, billing_journalentry, "
            "billing_posting, catalog_esimprofile, catalog_bundle, billing_autorenewal"
        )
    _check_ledger("funding the renewal wallets")
    print(
        f"{total:,} funded customers with a card due for auto-renewal "
        f"in {time.perf_counter() - start:.1f} s",
        flush=True,
    )


# --- The worker --------------------------------------------------------------------------------
def _broker_check() -> None:
    from django.conf import settings

    from bench.run import MeasurementError

    if not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        raise MeasurementError(
            "auto_renewals runs a Celery worker and needs a Redis broker, as in production; "
            "set REDIS_URL (scripts/bench.sh starts one)"
        )


def _queue() -> str:
    from config.celery_app import app

    return str(app.conf.task_default_queue)


def _broker() -> "Redis":
    import redis
    from django.conf import settings

    return redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=2)


def _queue_clear() -> int:
    """Deletes what is queued in Redis (and kombu's bookkeeping of unacknowledged messages,
    with no worker running); returns how many messages were waiting."""
    broker = _broker()
    waiting = int(broker.llen(_queue()))
    broker.delete(_queue(), "unacked", "unacked_index")
    return waiting


@contextlib.contextmanager
def _worker(workdir: Path) -> "Iterator[subprocess.Popen[bytes]]":
    """A `celery worker` with WORKER_PROCESSES prefork processes, ready; stopped by its PID."""
    from bench.run import SETTINGS_MODULE, MeasurementError, tail
    from config.celery_app import app

    node = f"bench-renewals-{os.getpid()}@{socket.gethostname()}"
    log_path = workdir / "celery-renewals.log"
    cmd = [
        sys.executable, "-m", "celery", "-A", "config.celery_app", "worker",
        "--pool", "prefork", "--concurrency", str(WORKER_PROCESSES),
        "--hostname", node, "--queues", _queue(),
        "--loglevel", "WARNING",  # no line per task: writing them would be measured too
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE}
    with log_path.open("w") as log_file:
        proc = subprocess.Popen(
            cmd, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + WORKER_START_TIMEOUT
        while not app.control.ping(destination=[node], timeout=0.5):
            if proc.poll() is not None:
                raise MeasurementError(f"celery worker exited:\n{tail(log_path.read_text())}")
            if time.monotonic() > deadline:
                raise MeasurementError(
                    f"celery worker not answering:\n{tail(log_path.read_text())}"
                )
        print(f"celery worker {node} ({WORKER_PROCESSES} processes), pid {proc.pid}", flush=True)
        yield proc
    except BaseException:
        _worker_stop(proc)
        print(f"celery worker log:\n{tail(log_path.read_text())}", file=sys.stderr, flush=True)
        raise
    finally:
        _worker_stop(proc)  # does nothing when stopped already


def _worker_stop(proc: "subprocess.Popen[bytes]") -> None:
    if proc.poll() is not None:
        return
    proc.terminate()  # warm shutdown: the running tasks finish, the reserved ones go back
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # its own process group: the worker and its pool
        proc.wait()


# --- The measurement ----------------------------------------------------------------------------
def _probe_open(profile_id: int) -> int:
    """Opens the renewal of a probe card's running period, as the sweep would; its id."""
    from django.utils import timezone

    from billing.models import AutoRenewal, Renewal, renewal_key
    from catalog.models import Bundle

    auto = AutoRenewal.objects.get(profile_id=profile_id)
    ends = Bundle.objects.get(profile_id=profile_id, status=Bundle.Status.ACTIVE).ends_at
    assert ends is not None
    renewal = Renewal.objects.create(
        key=renewal_key(profile_id, ends),
        profile_id=profile_id,
        customer_id=auto.customer_id,
        plan_id=auto.plan_id,
        currency=auto.currency,
        period_start=ends,
        next_attempt_at=timezone.now(),
    )
    return renewal.pk


def _probe_check(renewal_id: int) -> None:
    from billing.models import Renewal

    done = Renewal.objects.get(pk=renewal_id)
    if done.status != Renewal.Status.SUCCEEDED:
        raise RenewalsInconsistent(f"probe renewal {done.key} is {done.status}: {done.last_error}")


def measure(ctx: "BenchContext") -> "Measurement":
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bench.figures import Measurement
    from billing.models import Renewal
    from billing.services.renewals import renewal_attempt
    from billing.tasks import renewals_sweep_task
    from catalog.models import EsimProfile

    _broker_check()
    profile_ids = list(
        EsimProfile.objects.filter(plan__code=PLAN_CODE).order_by("pk").values_list("pk", flat=True)
    )
    if len(profile_ids) != CARDS + PROBES:
        raise RenewalsInconsistent(f"{len(profile_ids):,} cards set up, expected {CARDS + PROBES}")
    probes, cards = profile_ids[:PROBES], profile_ids[PROBES:]
    if Renewal.objects.exists():
        raise RenewalsInconsistent("renewals exist before the sweep; the database is not fresh")
    leftover = _queue_clear()
    # Untimed, in this process: a warm-up, then the queries of one renewal.
    probe_ids = [_probe_open(probe) for probe in probes]
    renewal_attempt(renewal_id=probe_ids[0])
    with CaptureQueriesContext(connection) as queries:
        renewal_attempt(renewal_id=probe_ids[1])
    queries_per_renewal = len(queries)
    for probe_id in probe_ids:
        _probe_check(probe_id)
    _queue_clear()  # the probes' receipts

    due = Renewal.objects.filter(status=Renewal.Status.DUE)
    with _worker(ctx.workdir) as proc:
        start = time.perf_counter()
        queued = renewals_sweep_task()
        swept = time.perf_counter()
        last_left, last_change = -1, swept
        while True:
            left = due.count()
            now = time.perf_counter()
            if left == 0:
                break
            if due.filter(attempts__gt=0).exists():
                raise RenewalsInconsistent(_failures("an attempt failed during the sweep"))
            if left != last_left:
                last_left, last_change = left, now
            if proc.poll() is not None:
                raise RenewalsInconsistent(f"the worker exited with {left:,} renewals due")
            if now - start > MAX_SECONDS or now - last_change > STALL_SECONDS:
                raise RenewalsInconsistent(
                    f"{left:,} renewals still due after {now - start:.0f} s; giving up"
                )
            time.sleep(POLL_SECONDS)
        seconds = now - start
        receipts_waiting = int(_broker().llen(_queue()))
    _queue_clear()
    if queued != CARDS:
        raise RenewalsInconsistent(f"the sweep queued {queued:,} attempts, expected {CARDS:,}")
    _check(cards)
    rate = CARDS / seconds
    return Measurement(
        value=rate,
        details={
            "renewals": CARDS,
            "seconds": round(seconds, 2),
            "sweep_seconds": round(swept - start, 2),
            "worker_processes": WORKER_PROCESSES,
            "queries_per_renewal": queries_per_renewal,
            "receipts_waiting_at_end": receipts_waiting,
            "tasks_left_in_queue_before": leftover,
            "goal_seconds": GOAL_SECONDS,
        },
        note=(
            f"{CARDS:,} renewals charged from wallets in {seconds:.1f} s by a worker with "
            f"{WORKER_PROCESSES} processes (sweep {swept - start:.1f} s of it; goal "
            f"{GOAL_SECONDS} s), {queries_per_renewal} queries each; all succeeded, ledger "
            "consistent"
        ),
    )


def _failures(what: str) -> str:
    from billing.models import Renewal

    rows = Renewal.objects.exclude(status=Renewal.Status.SUCCEEDED).filter(attempts__gt=0)
    shown = "; ".join(f"{r.key}: {r.status} {r.last_error}" for r in rows[:5])
    return f"{what}: {rows.count():,} renewals not succeeded ({shown})"


def _check(cards: list[int]) -> None:
    """Exactly one wallet charge, one order and one new bundle per card, and nothing else."""
    from django.db.models import Count, F, Q

    from bench.ledger import _check_ledger
    from billing.models import JournalEntry, LedgerAccount, Order, Posting, Renewal
    from catalog.models import Bundle

    renewals = Renewal.objects.filter(profile_id__in=cards)
    counts = renewals.aggregate(
        all=Count("pk"),
        succeeded=Count(
            "pk",
            filter=Q(
                status=Renewal.Status.SUCCEEDED, paid_with=Renewal.PaidWith.WALLET, attempts=1
            ),
        ),
        profiles=Count("profile_id", distinct=True),
    )
    entries = JournalEntry.objects.filter(
        idempotency_key__in=renewals.values("key"), kind=JournalEntry.Kind.PURCHASE
    ).count()
    renew_entries = JournalEntry.objects.filter(idempotency_key__startswith="renew:").count()
    orders = Order.objects.filter(
        renewals__in=renewals, status=Order.Status.FULFILLED, total=PRICE
    ).count()
    new_bundles = Bundle.objects.filter(
        profile_id__in=cards, status=Bundle.Status.QUEUED, delivery__isnull=False
    ).aggregate(all=Count("pk"), profiles=Count("profile_id", distinct=True))
    starts_right = Renewal.objects.filter(
        pk__in=renewals.values("pk"),
        order__lines__deliveries__bundle__starts_at=F("period_start"),
    ).count()
    wallets = LedgerAccount.objects.filter(
        owner__esims__pk__in=cards, currency=CURRENCY, purpose=LedgerAccount.Purpose.CUSTOMER_WALLET
    )
    paid = wallets.filter(balance=FUNDING - PRICE).count()
    charges = (
        Posting.objects.filter(account__in=wallets)
        .exclude(entry__idempotency_key__startswith=FUNDING_KEY)
        .count()
    )
    problems = []
    if counts["all"] != CARDS or counts["profiles"] != CARDS:
        problems.append(f"{counts['all']:,} renewals for {counts['profiles']:,} cards")
    if counts["succeeded"] != CARDS:
        problems.append(f"{counts['succeeded']:,} succeeded from the wallet at the first attempt")
    if entries != CARDS or renew_entries != CARDS + PROBES:
        problems.append(
            f"{entries:,} purchase entries keyed by the renewals, {renew_entries:,} keyed renew:"
        )
    if orders != CARDS:
        problems.append(f"{orders:,} fulfilled renewal orders at {PRICE}")
    if new_bundles["all"] != CARDS or new_bundles["profiles"] != CARDS:
        problems.append(f"{new_bundles['all']:,} new bundles on {new_bundles['profiles']:,} cards")
    if starts_right != CARDS:
        problems.append(f"{starts_right:,} new bundles start when the period ends")
    if paid != CARDS or charges != CARDS:
        problems.append(f"{paid:,} wallets hold {FUNDING - PRICE}, {charges:,} wallet charges")
    if problems:
        raise RenewalsInconsistent(f"after the sweep of {CARDS:,} cards: {'; '.join(problems)}")
    _check_ledger("the auto-renewals")
