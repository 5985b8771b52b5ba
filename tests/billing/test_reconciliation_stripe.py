"""Reconciliation with Stripe against localstripe: real PaymentIntents, refunds and payouts
made through the stripe library, payments confirmed in our ledger by the gateway's look-up,
then matched; one discrepancy of each kind Stripe can show; the balance history's paging
stops at the start of the range."""

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from djmoney.money import Money

from billing.gateways import gateway_get
from billing.gateways import stripe as stripe_gateway
from billing.models import Payment, ReconciliationItem, ReconciliationRun
from billing.services.payments import payment_refresh
from billing.services.payouts import payout_record
from billing.services.reconciliation import reconciliation_run
from tests.billing.payment_support import payment_make
from tests.billing.stripe_support import (
    API_KEY,
    CARD_OK,
    LOCALSTRIPE,
    WEBHOOK_SECRET,
    StripeHTTP,
    card_method,
    localstripe_client,
    needs_localstripe,
)
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, needs_localstripe]
Result = ReconciliationItem.Result
HISTORY = "/v1/balance_transactions"  # the library's path; /v1/balance/history is its alias


@pytest.fixture
def stripe_on(settings):
    settings.STRIPE_SECRET_KEY = API_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = LOCALSTRIPE


@pytest.fixture
def http(monkeypatch, stripe_on):
    """Every request passes on to localstripe and is recorded."""
    return StripeHTTP(monkeypatch, passthrough=True)


def charged(amount_minor: int, currency: str = "usd") -> str:
    """A PaymentIntent confirmed with a test card at localstripe: its id."""
    client = localstripe_client()
    intent = client.v1.payment_intents.create(
        {
            "amount": amount_minor,
            "currency": currency,
            "payment_method": card_method(client, CARD_OK),
            "confirm": True,
        }
    )
    assert intent.status == "succeeded"
    return intent.id


def booked(customer, amount: str, intent_id: str) -> Payment:
    """Our payment for `intent_id`, confirmed by asking Stripe (the sweeper's path)."""
    payment = payment_make(
        customer, amount, gateway=Payment.Gateway.STRIPE, gateway_payment_id=intent_id
    )
    payment = payment_refresh(payment_id=payment.pk)
    assert payment.status == Payment.Status.SUCCEEDED
    return payment


def test_stripe_payments_refunds_and_payouts_are_matched_and_discrepancies_reported(http, client):
    customer = UserFactory()
    clerk = UserFactory(is_staff=True)
    stripe_client = localstripe_client()
    matched = booked(customer, "12.34", charged(1234))
    # At Stripe 20.00, in our ledger 21.00 (the intent was created with another amount).
    mismatched_intent = charged(2000)
    mismatched = payment_make(
        customer, "21.00", gateway=Payment.Gateway.STRIPE, gateway_payment_id=mismatched_intent
    )
    from billing.gateways import PaymentUpdate
    from billing.services.payments import payment_update_apply

    payment_update_apply(
        payment=mismatched,
        update=PaymentUpdate(status=Payment.Status.SUCCEEDED, amount=mismatched.amount_money),
    )
    unbooked = charged(3000)  # Stripe took it; our ledger never heard
    # Our ledger has a capture Stripe knows nothing about.
    ghost = payment_make(
        customer, "5.00", gateway=Payment.Gateway.STRIPE, gateway_payment_id="pi_not_at_stripe"
    )
    payment_update_apply(
        payment=ghost,
        update=PaymentUpdate(status=Payment.Status.SUCCEEDED, amount=ghost.amount_money),
    )
    # A refund made in Stripe's dashboard only.
    refund = stripe_client.v1.refunds.create(
        {"payment_intent": matched.gateway_payment_id, "amount": 234}
    )
    # Payouts (localstripe pays out in euros only): one recorded, one not, one mistyped.
    payouts = [
        stripe_client.v1.payouts.create({"amount": n, "currency": "eur"})
        for n in (5000, 6000, 7000)
    ]
    arrival = datetime.fromtimestamp(payouts[0].arrival_date, tz=UTC)
    paid_on = timezone.localtime(arrival).date()
    for payout, to_bank in ((payouts[0], "50.00"), (payouts[2], "70.50")):
        payout_record(
            gateway="stripe",
            reference=payout.id,
            currency="EUR",
            paid_on=paid_on,
            amount_to_bank=Money(Decimal(to_bank), "EUR"),
            fees=Money(0, "EUR"),
            recorded_by=clerk,
            note="",
        )

    today = timezone.localdate()
    run = reconciliation_run(gateway="stripe", start=today, end=paid_on, run_by=clerk)

    # localstripe keeps what other tests made: only this test's references are checked.
    items = {item.reference: item for item in run.items.all()}

    def seen(ref):
        item = items[ref]
        return item.kind, item.result, item.ledger_amount, item.gateway_amount

    assert seen(matched.gateway_payment_id) == (
        "payment",
        Result.MATCHED,
        Decimal("12.34"),
        Decimal("12.34"),
    )
    assert items[matched.gateway_payment_id].gateway_fee == Decimal("0.00")
    assert seen(mismatched_intent) == (
        "payment",
        Result.AMOUNT_MISMATCH,
        Decimal("21.00"),
        Decimal("20.00"),
    )
    assert seen(unbooked) == ("payment", Result.MISSING_IN_LEDGER, None, Decimal("30.00"))
    assert seen("pi_not_at_stripe") == ("payment", Result.MISSING_AT_GATEWAY, Decimal("5.00"), None)
    assert seen(refund.id) == ("refund", Result.MISSING_IN_LEDGER, None, Decimal("-2.34"))
    assert seen(payouts[0].id) == ("payout", Result.MATCHED, Decimal("-50.00"), Decimal("-50.00"))
    assert seen(payouts[1].id) == ("payout", Result.MISSING_IN_LEDGER, None, Decimal("-60.00"))
    assert seen(payouts[2].id) == (
        "payout",
        Result.AMOUNT_MISMATCH,
        Decimal("-70.50"),
        Decimal("-70.00"),
    )
    assert items[payouts[2].id].currency == "EUR"
    assert run.status == ReconciliationRun.Status.DISCREPANCIES
    # The run's page offers to record the missing payout with its figures filled in.
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = client.get(reverse("admin:billing_reconciliationrun_change", args=[run.pk]))
    assert page.status_code == 200
    prefill = f"{reverse('admin:billing_gatewaypayout_record')}?gateway=stripe&amp;reference={payouts[1].id}"
    assert prefill in page.content.decode()
    assert f"reference={payouts[0].id}" not in page.content.decode()
    # The list was asked for with each transaction's charge or refund expanded.
    assert http.to(HISTORY)
    assert all(sent.form.get("expand[0]") == "data.source" for sent in http.to(HISTORY))


def test_the_balance_history_is_read_newest_first_and_stops_at_the_start(http, monkeypatch):
    charged(100)  # something older than the range
    time.sleep(1.1)  # Stripe's times are whole seconds
    start = datetime.now(tz=UTC).replace(microsecond=0)
    newer = [charged(200), charged(300)]
    monkeypatch.setattr(stripe_gateway, "PAGE_SIZE", 1)
    http.sent.clear()

    found = gateway_get("stripe").transactions_list(start=start, end=start + timedelta(hours=1))

    payments = [t.payment_ref for t in found if t.kind == "payment"]
    assert sorted(payments) == sorted(newer)
    assert all(t.created >= start for t in found)
    # One page each for the two in range, then the first older one ends the reading.
    pages = http.to(HISTORY)
    assert len(pages) == 3
    assert "starting_after" not in pages[0].form
    assert pages[1].form["starting_after"] and pages[2].form["starting_after"]
    assert all("created" not in key for sent in pages for key in sent.form)


def test_stripe_unreachable_makes_a_failed_run(http):
    http.refuse("get", HISTORY, 500, type="api_error", message="down")
    today = timezone.localdate()
    run = reconciliation_run(gateway="stripe", start=today, end=today, run_by=None)
    assert run.status == ReconciliationRun.Status.FAILED
    assert run.error.startswith("Stripe could not list the balance transactions")
    assert API_KEY not in run.error
