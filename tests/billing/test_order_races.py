"""Orders under real concurrency on PostgreSQL: threads, each on its own connection, with
committed transactions. A coupon's last use, partial refunds of one order, one wallet paying
many orders, and one order fulfilled from several places at once."""

import threading
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import TypeVar

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from billing.exceptions import CouponRefused, InsufficientFunds, RefundRefused
from billing.models import (
    Coupon,
    CouponRedemption,
    Delivery,
    JournalEntry,
    Order,
    OrderLine,
    Refund,
)
from billing.services.fulfilment import order_fulfil
from billing.services.orders import LineRequest, order_pay_wallet, order_place
from billing.services.refunds import refund_issue
from billing.services.wallets import wallet_get
from catalog.models import Bundle, EsimProfile
from tests.billing.conftest import balance_of
from tests.billing.order_support import funded_customer, plan_for_sale
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
T = TypeVar("T")


def race(count: int, work: Callable[[int], T]) -> list[T | BaseException]:
    """Run work(0..count-1) in `count` threads released together; each thread closes its
    connection. Returns each result, or the exception it raised."""
    start = threading.Barrier(count)

    def run(n: int) -> T | BaseException:
        try:
            start.wait(timeout=30)
            return work(n)
        except BaseException as error:  # returned, so the test sees every outcome
            return error
        finally:
            connection.close()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def outcomes(results: list) -> Counter:
    return Counter(type(r).__name__ for r in results)


def esim(plan) -> list[LineRequest]:
    return [LineRequest(kind=OrderLine.Kind.ESIM, plan=plan)]


@pytest.mark.parametrize("threads", [2, 8])
def test_a_coupon_with_one_use_goes_to_exactly_one_checkout(threads):
    plan = plan_for_sale(price="10.00", stock=0)
    coupon = Coupon.objects.create(
        code="LAST1", kind=Coupon.Kind.PERCENT, percent=Decimal("50"), max_uses=1
    )
    customers = [funded_customer("0") for _ in range(threads)]

    results = race(
        threads,
        lambda n: order_place(
            customer=customers[n], currency="USD", lines=esim(plan), coupon_code="last1"
        ),
    )

    assert outcomes(results) == {"Order": 1, "CouponRefused": threads - 1}, results
    assert all(isinstance(r, (Order, CouponRefused)) for r in results)
    coupon.refresh_from_db()
    assert coupon.uses == 1
    assert CouponRedemption.objects.count() == 1
    assert Order.objects.count() == 1
    assert Order.objects.get().discount == Decimal("5.00")


@pytest.mark.parametrize("threads", [2, 8])
def test_one_use_per_customer_holds_for_one_customer_racing_himself(threads):
    plan = plan_for_sale(price="10.00", stock=0)
    coupon = Coupon.objects.create(
        code="ONCE", kind=Coupon.Kind.PERCENT, percent=Decimal("10"), max_uses_per_customer=1
    )
    customer = funded_customer("0")

    results = race(
        threads,
        lambda n: order_place(
            customer=customer,
            currency="USD",
            lines=esim(plan),
            coupon_code="once",
            request_token=uuid.uuid4(),  # different submits, not a double click
        ),
    )

    assert outcomes(results) == {"Order": 1, "CouponRefused": threads - 1}, results
    coupon.refresh_from_db()
    assert coupon.uses == 1
    assert CouponRedemption.objects.filter(customer=customer).count() == 1


def test_ten_concurrent_partial_refunds_never_exceed_the_total():
    plan = plan_for_sale(price="10.00", stock=1)
    customer = funded_customer("10.00")
    order = order_pay_wallet(order=order_place(customer=customer, currency="USD", lines=esim(plan)))
    staff = UserFactory(is_staff=True)
    share = (order.total * Decimal("0.3")).quantize(Decimal("0.01"))  # 3.00

    results = race(
        10,
        lambda n: refund_issue(
            order=order,
            amount=share,
            destination=Refund.Destination.WALLET,
            actor=staff,
            reason=f"partial {n}",
        ),
    )

    assert all(isinstance(r, (Refund, RefundRefused)) for r in results), results
    done = [r for r in results if isinstance(r, Refund)]
    assert len(done) == 3  # 3 x 3.00 fits in 10.00, a fourth would not
    order.refresh_from_db()
    assert order.refunded_amount == Decimal("9.00") <= order.total
    assert order.status == Order.Status.PARTIALLY_REFUNDED
    completed = Refund.objects.filter(order=order, status=Refund.Status.COMPLETED)
    assert completed.count() == 3
    assert completed.aggregate(total=Sum("amount"))["total"] == order.refunded_amount
    assert Refund.objects.count() == 3  # the refused ones left nothing behind
    assert JournalEntry.objects.filter(kind=JournalEntry.Kind.REFUND).count() == 3
    assert balance_of(wallet_get(user=customer, currency="USD")) == Decimal("9.00")
    call_command("ledger_verify")


def test_one_wallet_paying_eight_orders_affords_five():
    plan = plan_for_sale(price="10.00", stock=8)
    customer = funded_customer("50.00")
    orders = [order_place(customer=customer, currency="USD", lines=esim(plan)) for _ in range(8)]
    wallet = wallet_get(user=customer, currency="USD")
    low: list[Decimal] = []
    done = threading.Event()

    def watch() -> None:
        try:
            while not done.is_set():
                low.append(LedgerAccountBalance.read(wallet.pk))
        finally:
            connection.close()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        results = race(8, lambda n: order_pay_wallet(order=orders[n]))
    finally:
        done.set()
        watcher.join()

    assert outcomes(results) == {"Order": 5, "InsufficientFunds": 3}, results
    for refused in (r for r in results if isinstance(r, InsufficientFunds)):
        assert refused.shortfall.amount == Decimal("10.00")
    assert balance_of(wallet) == 0
    assert low and min(low) >= 0
    statuses = Counter(Order.objects.values_list("status", flat=True))
    assert statuses == {Order.Status.FULFILLED: 5, Order.Status.PENDING_PAYMENT: 3}
    assert EsimProfile.objects.filter(owner=customer).count() == 5
    assert EsimProfile.objects.filter(status=EsimProfile.Status.AVAILABLE).count() == 3
    assert JournalEntry.objects.filter(kind=JournalEntry.Kind.PURCHASE).count() == 5
    call_command("ledger_verify")


class LedgerAccountBalance:
    @staticmethod
    def read(account_id: int) -> Decimal:
        with connection.cursor() as cursor:
            cursor.execute("SELECT balance FROM billing_ledgeraccount WHERE id = %s", [account_id])
            return cursor.fetchone()[0]


def test_one_order_fulfilled_from_four_threads_is_delivered_once(mailoutbox):
    plan = plan_for_sale(price="10.00", stock=6)
    customer = funded_customer("0")
    order = order_place(
        customer=customer,
        currency="USD",
        lines=[LineRequest(kind=OrderLine.Kind.ESIM, plan=plan, quantity=2)],
    )
    # Paid at the gateway; fulfilment not run yet (its task, the sweep and a retry all race).
    Order.objects.filter(pk=order.pk).update(
        status=Order.Status.PAID, paid_at=timezone.now(), paid_with=Order.PaidWith.GATEWAY
    )

    results = race(4, lambda n: order_fulfil(order_id=order.pk))

    assert all(isinstance(r, Order) for r in results), results
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    assert Delivery.objects.filter(line__order=order).count() == 2
    assert Bundle.objects.count() == 2
    assert EsimProfile.objects.filter(owner=customer).count() == 2
    assert EsimProfile.objects.filter(status=EsimProfile.Status.AVAILABLE).count() == 4
    assert JournalEntry.objects.filter(kind=JournalEntry.Kind.COST_OF_SALE).count() == 1
    assert len([m for m in mailoutbox if m.to == [customer.email]]) == 1
    call_command("ledger_verify")
