"""Auto-renewal end to end on PostgreSQL, with the clock moved by time-machine: the wallet
path, the saved card off-session, declines retried on schedule and then given up, and the
periods that need no charge."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from billing.models import (
    AutoRenewal,
    JournalEntry,
    Order,
    OrderLine,
    Payment,
    Renewal,
    SandboxCharge,
)
from billing.services.renewals import auto_renewal_disable, renewal_attempt, renewals_open
from billing.services.wallets import wallet_get
from billing.tasks import renewals_sweep_task
from catalog.models import Bundle
from catalog.services.bundles import bundles_advance
from tests.billing.conftest import fund
from tests.billing.order_support import funded_customer, plan_for_sale
from tests.billing.renewal_support import card_declines, renewable_card, run_bundle
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
Status = Renewal.Status
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def sweep(django_capture_on_commit_callbacks):
    """renewals_sweep_task as the beat runs it (attempts eager), with what it enqueues on
    commit (receipts, notices, fulfilment) run too."""

    def run() -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return renewals_sweep_task.run()

    return run


def balance(customer, currency="USD") -> Decimal:
    return wallet_get(user=customer, currency=currency).balance


def subjects(to) -> list[str]:
    return [m.subject for m in mail.outbox if to.email in m.to]


# --- The wallet ---------------------------------------------------------------------


def test_a_funded_wallet_renews_the_period_and_the_next_bundle_follows_the_current(clock, sweep):
    plan = plan_for_sale(price="12.00")
    customer = funded_customer("100.00")
    profile, bundle = renewable_card(customer, plan, ends_in=timedelta(hours=30))
    assert balance(customer) == Decimal("88.00")

    # 30 h before the end: outside the 24 h lead, the sweep does nothing.
    assert sweep() == 0
    assert not Renewal.objects.exists()
    assert balance(customer) == Decimal("88.00")

    clock.shift(timedelta(hours=20))  # 10 h left
    mail.outbox.clear()
    assert sweep() == 1
    renewal = Renewal.objects.get()
    assert renewal.key == f"renew:{profile.pk}:{bundle.ends_at.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    assert (renewal.status, renewal.paid_with, renewal.attempts) == (
        Status.SUCCEEDED,
        Renewal.PaidWith.WALLET,
        1,
    )
    assert balance(customer) == Decimal("76.00")
    entry = JournalEntry.objects.get(idempotency_key=renewal.key)
    wallet = wallet_get(user=customer, currency="USD")
    assert entry.postings.get(account=wallet).amount == Decimal("12.00")  # a debit
    order = renewal.order
    assert order.status == Order.Status.FULFILLED
    assert order.lines.get().kind == OrderLine.Kind.RENEWAL
    new = Bundle.objects.get(delivery__line__order=order)
    assert (new.status, new.starts_at, new.plan_id) == (
        Bundle.Status.QUEUED,
        bundle.ends_at,
        plan.pk,
    )
    # The receipt is the order's delivery email.
    assert any("renewed automatically" in s for s in subjects(customer))
    assert Order.objects.get(pk=order.pk).delivery_sent_at is not None

    # A second sweep (the next beat) charges nothing more.
    assert sweep() == 0
    assert balance(customer) == Decimal("76.00")
    assert Renewal.objects.count() == 1

    # The period ends: the renewed one runs.
    clock.shift(timedelta(hours=10, seconds=1))
    bundles_advance()
    bundle.refresh_from_db()
    new.refresh_from_db()
    assert bundle.status == Bundle.Status.EXPIRED
    assert new.status == Bundle.Status.ACTIVE
    assert new.starts_at == bundle.ends_at
    assert new.ends_at == bundle.ends_at + timedelta(days=plan.validity_days)
    # ...and the next sweep opens nothing for it until its own end comes near.
    assert sweep() == 0


def test_renewal_goes_to_the_plan_chosen(clock, sweep):
    plan = plan_for_sale(price="10.00")
    bigger = plan_for_sale(price="25.00", stock=0)
    customer = funded_customer("100.00")
    profile, _bundle = renewable_card(customer, plan)
    from tests.billing.renewal_support import auto_on

    auto_on(customer, profile, bigger)
    assert sweep() == 1
    renewal = Renewal.objects.get()
    assert renewal.plan_id == bigger.pk
    assert balance(customer) == Decimal("65.00")
    assert Bundle.objects.get(delivery__line__order=renewal.order).plan_id == bigger.pk


# --- The saved card -----------------------------------------------------------------


def test_an_empty_wallet_charges_the_saved_card_off_session(clock, sweep):
    plan = plan_for_sale(price="15.00")
    customer = UserFactory()
    _profile, bundle = renewable_card(customer, plan, card=True)
    assert balance(customer) == 0
    mail.outbox.clear()

    assert sweep() == 1
    renewal = Renewal.objects.select_related("payment", "order").get()
    assert (renewal.status, renewal.paid_with) == (Status.SUCCEEDED, Renewal.PaidWith.CARD)
    payment = renewal.payment
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.amount == Decimal("15.00")
    assert renewal.order.status == Order.Status.FULFILLED
    assert renewal.order.payment_id == payment.pk
    charge = SandboxCharge.objects.get(reference=str(payment.public_id))
    assert charge.status == SandboxCharge.Status.SUCCEEDED
    assert charge.webhook_url == ""  # off session: no page, no event
    assert JournalEntry.objects.filter(idempotency_key=f"payment:{payment.pk}:capture").count() == 1
    assert balance(customer) == 0
    new = Bundle.objects.get(delivery__line__order=renewal.order)
    assert (new.status, new.starts_at) == (Bundle.Status.QUEUED, bundle.ends_at)
    assert any("renewed automatically" in s for s in subjects(customer))
    # Run again: the same period is not charged twice.
    renewal_attempt(renewal_id=renewal.pk)
    assert SandboxCharge.objects.filter(customer_ref=payment.gateway_customer_id).count() == 2
    assert Payment.objects.filter(customer=customer, status=Payment.Status.SUCCEEDED).count() == 2


def test_a_declining_card_is_retried_after_6_then_18_hours_then_auto_renewal_is_off(clock, sweep):
    plan = plan_for_sale(price="15.00")
    customer = UserFactory()
    profile, bundle = renewable_card(customer, plan, card=True)
    card_declines(customer)
    entries_before = JournalEntry.objects.count()
    mail.outbox.clear()

    assert sweep() == 1
    renewal = Renewal.objects.get()
    assert (renewal.status, renewal.attempts) == (Status.DUE, 1)
    assert renewal.next_attempt_at == START + timedelta(hours=6)
    assert renewal.payment is None
    assert "declined" in renewal.last_error
    assert subjects(customer) == [f"We could not renew your eSIM {profile.iccid}"]

    # Not due yet: a sweep an hour later tries nothing.
    clock.shift(timedelta(hours=1))
    assert sweep() == 0
    clock.shift(timedelta(hours=5))
    assert sweep() == 1
    renewal.refresh_from_db()
    assert (renewal.status, renewal.attempts) == (Status.DUE, 2)
    assert renewal.next_attempt_at == START + timedelta(hours=6 + 18)
    assert len(subjects(customer)) == 2

    clock.shift(timedelta(hours=18))
    assert sweep() == 1
    renewal.refresh_from_db()
    assert (renewal.status, renewal.attempts) == (Status.FAILED, 3)
    assert renewal.finished_at == timezone.now()
    auto = AutoRenewal.objects.get(profile=profile)
    assert not auto.enabled
    assert "declined" in auto.disabled_reason
    assert subjects(customer)[-1] == f"Auto-renewal of your eSIM {profile.iccid} is off"
    assert len(subjects(customer)) == 3

    # No money moved; each attempt's order canceled, each card payment failed.
    assert JournalEntry.objects.count() == entries_before
    assert balance(customer) == 0
    renewal_orders = Order.objects.filter(lines__kind=OrderLine.Kind.RENEWAL)
    assert renewal_orders.count() == 3
    assert set(renewal_orders.values_list("status", flat=True)) == {Order.Status.CANCELED}
    failed = Payment.objects.filter(order__in=renewal_orders)
    assert failed.count() == 3
    assert set(failed.values_list("status", flat=True)) == {Payment.Status.FAILED}
    assert not Bundle.objects.filter(profile=profile, status=Bundle.Status.QUEUED).exists()
    # Nothing more is tried, however many sweeps.
    clock.shift(timedelta(days=2))
    assert sweep() == 0
    assert Payment.objects.filter(order__in=renewal_orders).count() == 3
    assert len(subjects(customer)) == 3
    bundle.refresh_from_db()


def test_a_top_up_between_failures_pays_the_next_attempt_from_the_wallet(clock, sweep):
    plan = plan_for_sale(price="15.00")
    customer = UserFactory()
    profile, bundle = renewable_card(customer, plan, card=True)
    card_declines(customer)
    assert sweep() == 1
    assert Renewal.objects.get().attempts == 1

    fund(wallet_get(user=customer, currency="USD"), "20.00")
    clock.shift(timedelta(hours=6))
    assert sweep() == 1
    renewal = Renewal.objects.get()
    assert (renewal.status, renewal.paid_with, renewal.attempts) == (
        Status.SUCCEEDED,
        Renewal.PaidWith.WALLET,
        2,
    )
    assert balance(customer) == Decimal("5.00")
    assert JournalEntry.objects.filter(idempotency_key=renewal.key).count() == 1
    assert renewal.order.status == Order.Status.FULFILLED
    # The first attempt's order stays canceled; only one card payment was tried.
    assert (
        Order.objects.filter(
            lines__kind=OrderLine.Kind.RENEWAL, status=Order.Status.CANCELED
        ).count()
        == 1
    )
    assert SandboxCharge.objects.filter(status=SandboxCharge.Status.FAILED).count() == 1
    new = Bundle.objects.get(delivery__line__order=renewal.order)
    assert new.starts_at == bundle.ends_at
    assert AutoRenewal.objects.get(profile=profile).enabled


def test_no_wallet_money_and_no_saved_card_fails_without_a_charge(clock, sweep):
    plan = plan_for_sale(price="15.00")
    customer = funded_customer("15.00")
    _profile, _bundle = renewable_card(customer, plan)  # the wallet paid the eSIM: 0 left
    assert sweep() == 1
    renewal = Renewal.objects.get()
    assert (renewal.status, renewal.attempts) == (Status.DUE, 1)
    assert "no card" in renewal.last_error
    order = Order.objects.get(lines__kind=OrderLine.Kind.RENEWAL)
    assert order.status == Order.Status.CANCELED
    assert not Payment.objects.filter(order=order).exists()
    assert balance(customer) == 0


def test_a_renewal_after_the_period_ended_starts_at_once(clock, sweep):
    """The last retry succeeds after the old period ran out: the new one starts then."""
    plan = plan_for_sale(price="15.00")
    customer = UserFactory()
    _profile, bundle = renewable_card(customer, plan, ends_in=timedelta(hours=2), card=True)
    real_method = Payment.objects.get(customer=customer).gateway_method_id
    card_declines(customer)
    assert sweep() == 1
    clock.shift(timedelta(hours=6))
    bundles_advance()
    bundle.refresh_from_db()
    assert bundle.status == Bundle.Status.EXPIRED
    Payment.objects.filter(customer=customer).exclude(gateway_method_id="").update(
        gateway_method_id=real_method
    )
    assert sweep() == 1
    renewal = Renewal.objects.get()
    assert (renewal.status, renewal.paid_with) == (Status.SUCCEEDED, Renewal.PaidWith.CARD)
    bundles_advance()
    new = Bundle.objects.get(delivery__line__order=renewal.order)
    assert new.status == Bundle.Status.ACTIVE
    assert new.starts_at == timezone.now()


# --- Nothing to charge ------------------------------------------------------------------


def test_a_card_renewed_by_hand_is_not_charged_again(clock, sweep):
    from billing.services.orders import LineRequest, order_pay_wallet, order_place

    plan = plan_for_sale(price="10.00")
    customer = funded_customer("100.00")
    profile, _bundle = renewable_card(customer, plan)
    order = order_place(
        customer=customer,
        currency="USD",
        lines=[LineRequest(kind=OrderLine.Kind.RENEWAL, plan=plan, profile=profile)],
    )
    order_pay_wallet(order=order)
    assert balance(customer) == Decimal("80.00")
    assert sweep() == 0
    assert balance(customer) == Decimal("80.00")
    assert not Renewal.objects.filter(status=Status.SUCCEEDED).exists()


def test_a_card_renewed_by_hand_after_the_row_opened_is_skipped(clock, sweep):
    from billing.services.orders import LineRequest, order_pay_wallet, order_place

    plan = plan_for_sale(price="10.00")
    customer = funded_customer("100.00")
    profile, _bundle = renewable_card(customer, plan)
    assert renewals_open() == 1
    order = order_place(
        customer=customer,
        currency="USD",
        lines=[LineRequest(kind=OrderLine.Kind.RENEWAL, plan=plan, profile=profile)],
    )
    order_pay_wallet(order=order)
    assert sweep() == 1
    renewal = Renewal.objects.get()
    assert renewal.status == Status.SKIPPED
    assert renewal.order is None
    assert balance(customer) == Decimal("80.00")
    assert Bundle.objects.filter(profile=profile, status=Bundle.Status.QUEUED).count() == 1


def test_auto_renewal_turned_off_after_the_row_opened_is_skipped(clock, sweep):
    plan = plan_for_sale(price="10.00")
    customer = UserFactory()
    profile, _bundle = renewable_card(customer, plan, card=True)
    assert renewals_open() == 1
    assert auto_renewal_disable(customer=customer, profile=profile) == 1
    assert sweep() == 1
    renewal = Renewal.objects.get()
    assert renewal.status == Status.SKIPPED
    assert "turned off" in renewal.last_error
    assert Payment.objects.filter(customer=customer).count() == 1  # the purchase only
    assert not mail.outbox or all("renew" not in m.subject for m in mail.outbox)


def test_auto_renewal_off_opens_nothing(clock, sweep):
    plan = plan_for_sale(price="10.00")
    customer = funded_customer("100.00")
    profile, _bundle = renewable_card(customer, plan)
    auto_renewal_disable(customer=customer, profile=profile)
    assert sweep() == 0
    assert not Renewal.objects.exists()


def test_a_depleted_bundle_is_renewed_at_its_end_too(clock, sweep):
    plan = plan_for_sale(price="10.00")
    customer = funded_customer("100.00")
    _profile, bundle = renewable_card(customer, plan)
    Bundle.objects.filter(pk=bundle.pk).update(status=Bundle.Status.DEPLETED)
    assert sweep() == 1
    renewal = Renewal.objects.get()
    assert renewal.status == Status.SUCCEEDED
    assert renewal.period_start == bundle.ends_at


def test_the_row_key_is_unique_per_period(clock):
    plan = plan_for_sale(price="10.00")
    customer = funded_customer("100.00")
    profile, _bundle = renewable_card(customer, plan)
    assert renewals_open() == 1
    assert renewals_open() == 1  # a second sweep finds the period again, adds no row
    assert Renewal.objects.count() == 1
    run_bundle(profile, ends_in=timedelta(hours=11))  # another period (another end)
    renewals_open()
    assert Renewal.objects.count() == 2


def test_turning_auto_renewal_on_again_retries_a_period_given_up_on(clock, sweep):
    plan = plan_for_sale(price="10.00")
    customer = funded_customer("100.00")
    profile, bundle = renewable_card(customer, plan)
    assert renewals_open() == 1
    auto_renewal_disable(customer=customer, profile=profile)
    assert sweep() == 1
    assert Renewal.objects.get().status == Status.SKIPPED
    from tests.billing.renewal_support import auto_on

    auto_on(customer, profile)  # the customer changes their mind before the period ends
    assert sweep() == 1
    renewal = Renewal.objects.get()
    assert (renewal.status, renewal.paid_with) == (Status.SUCCEEDED, Renewal.PaidWith.WALLET)
    assert balance(customer) == Decimal("80.00")
    assert Bundle.objects.get(delivery__line__order=renewal.order).starts_at == bundle.ends_at


def test_turning_auto_renewal_on_after_the_last_failure_tries_once_more(clock, sweep):
    plan = plan_for_sale(price="15.00")
    customer = UserFactory()
    profile, _bundle = renewable_card(customer, plan, card=True)
    card_declines(customer)
    sweep()
    clock.shift(timedelta(hours=6))
    sweep()
    clock.shift(timedelta(hours=18))
    sweep()
    assert Renewal.objects.get().status == Status.FAILED
    # The customer tops up and turns auto-renewal on again: the period is renewed at once.
    fund(wallet_get(user=customer, currency="USD"), "15.00")
    from tests.billing.renewal_support import auto_on

    auto_on(customer, profile)
    assert sweep() == 1
    renewal = Renewal.objects.get()
    assert (renewal.status, renewal.paid_with, renewal.attempts) == (
        Status.SUCCEEDED,
        Renewal.PaidWith.WALLET,
        4,
    )
    assert balance(customer) == 0
    assert Order.objects.filter(lines__kind=OrderLine.Kind.RENEWAL).count() == 4


def test_a_plan_change_on_a_depleted_card_is_not_renewed_at_the_old_end(clock, sweep):
    from billing.services.orders import LineRequest, order_pay_wallet, order_place

    plan = plan_for_sale(price="10.00")
    short = plan_for_sale(price="5.00", stock=0, validity_days=1)
    customer = funded_customer("100.00")
    profile, bundle = renewable_card(customer, plan, ends_in=timedelta(days=5))
    Bundle.objects.filter(pk=bundle.pk).update(status=Bundle.Status.DEPLETED)
    order = order_place(
        customer=customer,
        currency="USD",
        lines=[
            LineRequest(kind=OrderLine.Kind.CHANGE, plan=short, profile=profile, starts_now=True)
        ],
    )
    order_pay_wallet(order=order)
    bundle.refresh_from_db()
    assert (bundle.status, bundle.ends_at) == (Bundle.Status.EXPIRED, timezone.now())
    new = Bundle.objects.get(delivery__line__order=order)
    assert new.status == Bundle.Status.ACTIVE
    # The new 1-day plan is due now (it ends within 24 h), at its own end, to the new plan.
    assert sweep() == 1
    renewal = Renewal.objects.get()
    assert renewal.period_start == new.ends_at
    assert renewal.plan_id == short.pk
    assert renewal.status == Status.SUCCEEDED
