"""Figure `wallet_checkouts`: eSIM checkouts paid from the wallet, 8 threads on PostgreSQL.

A checkout is what the storefront's wallet button does: `order_place` (one eSIM line, a
request token) then `order_pay_wallet`, which debits the wallet, marks the order paid,
allocates a profile, creates its bundle, posts the cost of sale and queues the delivery email
in Redis after commit (no worker runs). Each thread buys for its own customers, in turn, as fast
as it can; every customer holds far more than a run can spend.

Afterwards every order must be fulfilled, with one profile assigned and one bundle per order,
every wallet must hold its funding less what it paid, one delivery task must be queued per
order, and the ledger must be consistent. The queued tasks are then deleted.

The stock is sized for MAX_RATE checkouts per second, which no run reaches; a thread that
uses up its share fails the figure rather than measure a shortage.
"""

import threading
import time
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from bench.threads import threads_run

if TYPE_CHECKING:  # bench.figures imports this module
    from redis import Redis

    from accounts.models import User
    from bench.figures import BenchContext, Measurement
    from catalog.models import Plan

CURRENCY = "USD"
THREADS = 8
CUSTOMERS_PER_THREAD = 4
CUSTOMER_EMAIL = "bench-checkout-{thread}-{n}@example.com"
PRICE = Decimal("10.00")
WHOLESALE = Decimal("3.20")
FUNDING = Decimal("1000000.00")  # per customer: far more than a run can spend
PLAN_CODE = "bench-checkout-jp-5gb"
MAX_RATE = 1_600  # checkouts per second, all threads: sizes the stock
WARM_UP = 2  # untimed checkouts per thread
MAIN_CHECKOUTS = 2  # before the threads start: one to warm up, one to count its queries
ICCID_PREFIX = "8944"  # bench.catalog_import's cards start 8986


class CheckoutsInconsistent(RuntimeError):
    """The orders, stock, wallets or ledger are not what the checkouts should have left."""


def _stock_per_thread(ctx: "BenchContext") -> int:
    return MAX_RATE * ctx.duration // THREADS + WARM_UP


def _customers(thread: int) -> list["User"]:
    from accounts.models import User

    emails = [CUSTOMER_EMAIL.format(thread=thread, n=n) for n in range(CUSTOMERS_PER_THREAD)]
    return list(User.objects.filter(email__in=emails).order_by("email"))


def _plan() -> "Plan":
    from catalog.models import Plan

    return Plan.objects.get(code=PLAN_CODE)


def setup(ctx: "BenchContext") -> None:
    """A plan priced PRICE with the stock for a run, and the funded customers."""
    from djmoney.money import Money

    from accounts.models import User
    from billing.models import JournalEntry, LedgerAccount
    from billing.services.wallets import wallet_credit, wallet_get
    from catalog.models import EsimProfile, Plan, PlanPrice
    from catalog.validation import luhn_check_digit

    cost = cast(Any, Money(WHOLESALE, CURRENCY))
    plan = Plan.objects.create(
        code=PLAN_CODE,
        name="Japan 5 GB (bench checkout)",
        country="JP",
        data_mb=5120,
        validity_days=30,
        wholesale_cost=cost,
    )
    PlanPrice.objects.create(plan=plan, price=cast(Any, Money(PRICE, CURRENCY)))
    stock = THREADS * _stock_per_thread(ctx) + MAIN_CHECKOUTS
    profiles = []
    for n in range(stock):
        payload = f"{ICCID_PREFIX}{n:014d}"
        profiles.append(
            EsimProfile(
                iccid=payload + luhn_check_digit(payload),
                smdp_address="smdp.bench.example.com",
                matching_id=f"BENCH-CHECKOUT-{n:08d}",
                plan=plan,
                wholesale_cost=cost,
            )
        )
    EsimProfile.objects.bulk_create(profiles, batch_size=5_000)
    for thread in range(THREADS):
        for n in range(CUSTOMERS_PER_THREAD):
            user = User.objects.create_user(CUSTOMER_EMAIL.format(thread=thread, n=n))
            wallet_credit(
                wallet=wallet_get(user=user, currency=CURRENCY),
                amount=Money(FUNDING, CURRENCY),
                source=LedgerAccount.Purpose.CASH_ON_HAND,
                idempotency_key=f"bench-checkout-funding-{thread}-{n}",
                kind=JournalEntry.Kind.COUNTER_TOPUP,
            )
    print(f"{stock:,} profiles in stock, {THREADS * CUSTOMERS_PER_THREAD} customers", flush=True)


def _checkout(customer: "User", plan: "Plan") -> None:
    from billing.models import Order
    from billing.services.orders import LineRequest, order_pay_wallet, order_place

    order = order_place(
        customer=customer,
        currency=CURRENCY,
        lines=[LineRequest(kind="esim", plan=plan)],
        request_token=uuid.uuid4(),
    )
    order = order_pay_wallet(order=order)
    if order.status != Order.Status.FULFILLED:
        raise CheckoutsInconsistent(f"order {order.number} is {order.status} after paying")


def _broker() -> "Redis":
    import redis
    from django.conf import settings

    from bench.run import MeasurementError

    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        raise MeasurementError(
            "wallet_checkouts queues delivery emails and needs a Redis broker, as in "
            "production; set REDIS_URL (scripts/bench.sh starts one)"
        )
    return redis.Redis.from_url(url, socket_connect_timeout=2)


def _queue() -> str:
    from config.celery_app import app

    return str(app.conf.task_default_queue)


def measure(ctx: "BenchContext") -> "Measurement":
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bench.figures import Measurement

    broker = _broker()
    queued_before = broker.llen(_queue())
    plan = _plan()
    customers = [_customers(thread) for thread in range(THREADS)]
    # Alone and untimed: one to open the connection and fill the caches, one to count the
    # queries a checkout makes.
    _checkout(customers[0][0], plan)
    with CaptureQueriesContext(connection) as queries:
        _checkout(customers[0][0], plan)
    queries_per_checkout = len(queries)

    budget = _stock_per_thread(ctx) - WARM_UP
    timing: dict[str, float] = {}
    counts = [0] * THREADS
    ends = [0.0] * THREADS
    errors: list[BaseException] = []

    def start_clock() -> None:  # run by one thread once all have warmed up
        timing["start"] = time.perf_counter()
        timing["deadline"] = timing["start"] + ctx.duration

    barrier = threading.Barrier(THREADS, action=start_clock)

    def work(thread: int) -> None:
        mine = customers[thread]
        try:
            for n in range(WARM_UP):  # untimed: connect, first-use caches
                _checkout(mine[n % len(mine)], plan)
            barrier.wait()
            deadline = timing["deadline"]
            while time.perf_counter() < deadline:
                if counts[thread] >= budget:
                    raise CheckoutsInconsistent(
                        f"thread {thread} used up its {budget:,} profiles before the end; "
                        "raise MAX_RATE in bench/orders.py"
                    )
                _checkout(mine[counts[thread] % len(mine)], plan)
                counts[thread] += 1
            ends[thread] = time.perf_counter()
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()  # the others stop waiting, rather than hang
        finally:
            connection.close()

    threads_run(work, errors, THREADS)

    elapsed = max(ends) - timing["start"]
    checkouts = sum(counts)
    total = checkouts + THREADS * WARM_UP + MAIN_CHECKOUTS
    queued = broker.llen(_queue()) - queued_before
    broker.delete(_queue())  # nobody will send them
    _check(plan, customers, total, queued)
    per_thread = [round(count / elapsed, 1) for count in counts]
    return Measurement(
        value=checkouts / elapsed,
        details={
            "threads": THREADS,
            "checkouts": checkouts,
            "seconds": round(elapsed, 2),
            "checkouts_per_second_per_thread": per_thread,
            "queries_per_checkout": queries_per_checkout,
        },
        note=(
            f"{checkouts:,} checkouts by {THREADS} threads in {elapsed:.1f} s "
            f"({min(per_thread):.0f} to {max(per_thread):.0f}/s per thread), "
            f"{queries_per_checkout} queries each; all fulfilled, ledger consistent"
        ),
    )


def _check(plan: "Plan", customers: list[list["User"]], total: int, queued: int) -> None:
    """Every checkout left a fulfilled order, one assigned profile with its bundle, the
    money out of the wallet, a delivery task queued, and a consistent ledger."""
    from django.db.models import Count, Q

    from bench.ledger import _check_ledger
    from billing.models import Order
    from billing.selectors.ledger import wallet_balance
    from catalog.models import Bundle, EsimProfile

    buyers = [customer for mine in customers for customer in mine]
    orders = Order.objects.filter(customer__in=buyers).aggregate(
        all=Count("pk"),
        fulfilled=Count("pk", filter=Q(status=Order.Status.FULFILLED)),
        spent=Count("pk", filter=Q(total=PRICE)),
    )
    assigned = EsimProfile.objects.filter(
        plan=plan, status=EsimProfile.Status.ASSIGNED, owner__in=buyers
    ).count()
    left = EsimProfile.objects.filter(plan=plan).exclude(status=EsimProfile.Status.AVAILABLE)
    bundles = Bundle.objects.filter(plan=plan).count()
    problems = []
    if orders["all"] != total:
        problems.append(f"{orders['all']:,} orders for {total:,} checkouts")
    if orders["fulfilled"] != orders["all"] or orders["spent"] != orders["all"]:
        problems.append(
            f"{orders['all'] - orders['fulfilled']:,} orders not fulfilled, "
            f"{orders['all'] - orders['spent']:,} not at {PRICE}"
        )
    if assigned != total or left.count() != total:
        problems.append(f"{assigned:,} profiles assigned, {left.count():,} out of stock")
    if bundles != total:
        problems.append(f"{bundles:,} bundles")
    if queued != total:
        problems.append(f"{queued:,} delivery tasks queued")
    spent = sum(
        FUNDING - wallet_balance(user=customer, currency=CURRENCY).amount for customer in buyers
    )
    if spent != total * PRICE:
        problems.append(f"the wallets paid {spent}, expected {total * PRICE}")
    if problems:
        raise CheckoutsInconsistent(f"after {total:,} checkouts: {'; '.join(problems)}")
    _check_ledger("the wallet checkouts")
