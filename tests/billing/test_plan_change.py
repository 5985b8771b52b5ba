"""Plan changes and manual renewals of a card: the unused share of the running bundle (by
days or by data, whichever is smaller, rounded down) back to the wallet, the new plan now or
after the current period, auto-renewal following, and what is refused."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from djmoney.money import Money

from billing.exceptions import OrderRefused
from billing.models import AutoRenewal, JournalEntry, LedgerAccount, OrderLine
from billing.selectors.renewals import plan_change_credit
from billing.services.orders import (
    LineRequest,
    order_pay_wallet,
    order_place,
    plan_change_check,
)
from billing.services.wallets import wallet_get
from catalog.models import MB, Bundle, PlanPrice
from catalog.services.bundles import bundles_advance
from tests.billing.order_support import bought_esim, entry_postings, funded_customer, plan_for_sale
from tests.billing.renewal_support import auto_on

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)
Purpose = LedgerAccount.Purpose


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def setup():
    """A customer with 100.00 USD who bought a 30-day 5 GB plan for 30.00, running for 10 days
    (20 left, a third of the days used), and a bigger plan for the same country at 20.00."""
    plan = plan_for_sale(price="30.00", data_mb=5120, validity_days=30)
    other = plan_for_sale(price="20.00", stock=0, data_mb=10240, validity_days=15)
    customer = funded_customer("100.00")
    _order, profile = bought_esim(customer, plan)
    bundle = profile.bundles.get()
    bundle.status = Bundle.Status.ACTIVE
    bundle.starts_at = NOW - timedelta(days=10)
    bundle.ends_at = NOW + timedelta(days=20)
    bundle.save()
    return customer, profile, bundle, plan, other


def balance(customer) -> Decimal:
    return wallet_get(user=customer, currency="USD").balance


def change(customer, profile, plan, *, now: bool, currency="USD"):
    order = order_place(
        customer=customer,
        currency=currency,
        lines=[LineRequest(kind=OrderLine.Kind.CHANGE, plan=plan, profile=profile, starts_now=now)],
    )
    return order_pay_wallet(order=order)


@pytest.mark.parametrize(
    ("used_mb", "credit"),
    [
        (0, "20.00"),  # days left 2/3 < data left 1
        (2560, "15.00"),  # data left 1/2 < days left 2/3
        (5120 - 1, "0.00"),  # data left 1/5120: 30 × 1/5120 = 0.0058… rounds down to 0.00
        (5120, "0.00"),  # all data used
    ],
)
def test_the_credit_is_the_smaller_unused_share_rounded_down(setup, used_mb, credit):
    _customer, _profile, bundle, _plan, _other = setup
    Bundle.objects.filter(pk=bundle.pk).update(data_used_bytes=used_mb * MB)
    bundle.refresh_from_db()
    assert plan_change_credit(bundle=bundle) == Money(Decimal(credit), "USD")


def test_rounding_is_down_to_the_cent(setup, clock):
    _customer, _profile, bundle, _plan, _other = setup
    clock.move_to(NOW + timedelta(days=10))  # 10 of 30 days left: 30 × 1/3 = 10.00 exactly
    assert plan_change_credit(bundle=bundle) == Money(Decimal("10.00"), "USD")
    clock.move_to(NOW + timedelta(days=10, seconds=1))  # 9.99998…: down to 9.99
    assert plan_change_credit(bundle=bundle) == Money(Decimal("9.99"), "USD")


def test_a_change_now_credits_the_unused_share_and_starts_the_new_plan(
    setup, django_capture_on_commit_callbacks
):
    customer, profile, bundle, _plan, other = setup
    auto_on(customer, profile)
    Bundle.objects.filter(pk=bundle.pk).update(data_used_bytes=2560 * MB)  # half the data
    assert balance(customer) == Decimal("70.00")

    with django_capture_on_commit_callbacks(execute=True):
        order = change(customer, profile, other, now=True)
    line = order.lines.get()
    assert order.status == "fulfilled"
    # 70.00 - 20.00 for the new plan + 15.00 (half of the 30.00 paid) back.
    assert balance(customer) == Decimal("65.00")
    postings = entry_postings(f"orderline:{line.pk}:change-credit")
    assert postings == {
        Purpose.SALES_REFUNDS: Decimal("15.00"),
        Purpose.CUSTOMER_WALLET: Decimal("-15.00"),
    }
    entry = JournalEntry.objects.get(idempotency_key=f"orderline:{line.pk}:change-credit")
    assert entry.kind == JournalEntry.Kind.REFUND

    bundle.refresh_from_db()
    assert (bundle.status, bundle.ends_at) == (Bundle.Status.EXPIRED, NOW)
    new = Bundle.objects.get(delivery__line=line)
    assert (new.status, new.plan_id, new.starts_at, new.ends_at) == (
        Bundle.Status.ACTIVE,
        other.pk,
        NOW,
        NOW + timedelta(days=15),
    )
    assert new.data_allowance_mb == 10240
    assert AutoRenewal.objects.get(profile=profile).plan_id == other.pk
    # The lifecycle leaves it as it is.
    bundles_advance()
    new.refresh_from_db()
    assert new.status == Bundle.Status.ACTIVE


def test_a_change_now_moves_a_queued_renewal_after_the_new_plan(setup):
    customer, profile, bundle, plan, other = setup
    renewal = order_place(
        customer=customer,
        currency="USD",
        lines=[LineRequest(kind=OrderLine.Kind.RENEWAL, plan=plan, profile=profile)],
    )
    order_pay_wallet(order=renewal)
    queued = Bundle.objects.get(profile=profile, status=Bundle.Status.QUEUED)
    assert queued.starts_at == bundle.ends_at
    order = change(customer, profile, other, now=True)
    new = Bundle.objects.get(delivery__line__order=order)
    queued.refresh_from_db()
    assert queued.starts_at == new.ends_at


def test_a_change_at_the_end_credits_nothing_and_queues_the_new_plan(setup):
    customer, profile, bundle, _plan, other = setup
    auto_on(customer, profile)
    order = change(customer, profile, other, now=False)
    line = order.lines.get()
    assert balance(customer) == Decimal("50.00")
    assert not JournalEntry.objects.filter(idempotency_key__endswith="change-credit").exists()
    bundle.refresh_from_db()
    assert bundle.status == Bundle.Status.ACTIVE
    assert bundle.ends_at == NOW + timedelta(days=20)
    new = Bundle.objects.get(delivery__line=line)
    assert (new.status, new.plan_id, new.starts_at) == (
        Bundle.Status.QUEUED,
        other.pk,
        bundle.ends_at,
    )
    assert AutoRenewal.objects.get(profile=profile).plan_id == other.pk


def test_a_change_refuses_the_same_plan_another_country_and_another_currency(setup):
    customer, profile, _bundle, plan, other = setup
    with pytest.raises(OrderRefused, match="current plan"):
        plan_change_check(plan=plan, profile=profile, currency="USD")
    france = plan_for_sale(price="20.00", stock=0, country="FR")
    with pytest.raises(OrderRefused, match="cannot renew"):
        plan_change_check(plan=france, profile=profile, currency="USD")
    PlanPrice.objects.create(plan=other, price=Money(Decimal("18.00"), "EUR"))
    with pytest.raises(OrderRefused, match="USD"):
        plan_change_check(plan=other, profile=profile, currency="EUR")
    # The order refuses it too, with nothing placed.
    with pytest.raises(OrderRefused):
        change(customer, profile, other, now=True, currency="EUR")
    plan_change_check(plan=other, profile=profile, currency="USD")  # allowed


def test_an_early_manual_renewal_queues_the_next_period_after_the_current(setup):
    customer, profile, bundle, plan, _other = setup
    order = order_place(
        customer=customer,
        currency="USD",
        lines=[LineRequest(kind=OrderLine.Kind.RENEWAL, plan=plan, profile=profile)],
    )
    order = order_pay_wallet(order=order)
    assert order.status == "fulfilled"
    assert balance(customer) == Decimal("40.00")
    new = Bundle.objects.get(delivery__line__order=order)
    assert (new.status, new.starts_at) == (Bundle.Status.QUEUED, bundle.ends_at)
    bundle.refresh_from_db()
    assert bundle.status == Bundle.Status.ACTIVE
    # When the current one ends, the renewed period starts where it ended.
    with time_machine.travel(bundle.ends_at + timedelta(minutes=5), tick=False):
        bundles_advance()
    new.refresh_from_db()
    assert (new.status, new.starts_at) == (Bundle.Status.ACTIVE, bundle.ends_at)
