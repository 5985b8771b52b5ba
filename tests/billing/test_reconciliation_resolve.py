"""Resolving a run's discrepancies from its page: a lost webhook by asking the gateway, a refund
made at the gateway only by booking it once; both through the admin's URLs, each recorded on
the item, and the next run of the range matching."""

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.urls import reverse
from djmoney.money import Money

from billing.exceptions import ReconciliationRefused
from billing.gateways.sandbox import SandboxGateway
from billing.models import (
    JournalEntry,
    LedgerAccount,
    Payment,
    Posting,
    ReconciliationItem,
    ReconciliationRun,
)
from billing.services.gateway_refunds import gateway_refund_book
from billing.services.ledger import system_account_get
from billing.services.reconciliation import reconciliation_run
from billing.services.wallets import wallet_debit, wallet_get
from tests.billing.conftest import balance_of, fund
from tests.billing.order_support import sandbox_events_to
from tests.billing.payment_support import payment_make
from tests.billing.test_reconciliation import sandbox_order, sandbox_topup, today
from tests.factories import UserFactory

Result = ReconciliationItem.Result
Purpose = LedgerAccount.Purpose


@pytest.fixture
def events(client, monkeypatch):
    return sandbox_events_to(client, monkeypatch)


def clerk_with(*codenames):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def clerk(client):
    user = clerk_with("run_reconciliation", "view_reconciliationrun")
    client.force_login(user)
    return user


def run_today() -> ReconciliationRun:
    return reconciliation_run(gateway="sandbox", start=today(), end=today(), run_by=None)


def item_of(run: ReconciliationRun, reference: str) -> ReconciliationItem:
    return run.items.get(reference=reference)


def ask_url(item) -> str:
    return reverse("admin:billing_reconciliationrun_ask_gateway", args=[item.pk])


def book_url(item) -> str:
    return reverse("admin:billing_reconciliationrun_book_refund", args=[item.pk])


def run_page(client, run) -> str:
    response = client.get(reverse("admin:billing_reconciliationrun_change", args=[run.pk]))
    assert response.status_code == 200
    return response.content.decode()


def lines_of(entry: JournalEntry) -> dict[str, Decimal]:
    return {
        p.account.code: p.amount
        for p in Posting.objects.filter(entry=entry).select_related("account")
    }


def gateway_refund(payment: Payment, amount: str, key: str):
    """A refund made in the gateway's dashboard: our ledger never hears of it."""
    return SandboxGateway().refund_create(
        payment=payment, amount=Money(Decimal(amount), "USD"), idempotency_key=key
    )


# --- Ask the gateway now -------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_lost_webhook_is_captured_by_asking_the_gateway(
    client, clerk, events, django_capture_on_commit_callbacks
):
    customer = UserFactory()
    lost = sandbox_topup(customer, "30.00", django_capture_on_commit_callbacks, confirm=False)
    run = run_today()
    item = item_of(run, lost.gateway_payment_id)
    assert (item.result, item.payment) == (Result.MISSING_IN_LEDGER, lost)
    html = run_page(client, run)
    assert ask_url(item) in html and "Ask the gateway now" in html

    response = client.post(ask_url(item), follow=True)

    assert response.redirect_chain[-1][0] == reverse(
        "admin:billing_reconciliationrun_change", args=[run.pk]
    )
    assert f"payment {lost.receipt_number} is now Succeeded" in response.content.decode()
    lost.refresh_from_db()
    assert lost.status == Payment.Status.SUCCEEDED
    capture = JournalEntry.objects.get(idempotency_key=f"payment:{lost.pk}:capture")
    assert balance_of(wallet_get(user=customer, currency="USD")) == Decimal("30.00")
    item.refresh_from_db()
    assert (item.resolved_by, item.resolved_entry) == (clerk, capture)
    assert item.resolved_at is not None
    # A second click asks again and posts nothing more; the button is gone.
    client.post(ask_url(item))
    assert JournalEntry.objects.filter(payment=lost).count() == 1
    html = run_page(client, run)
    assert ask_url(item) not in html
    assert "asked the gateway" in html
    # The range runs clean now.
    again = run_today()
    assert item_of(again, lost.gateway_payment_id).result == Result.MATCHED
    assert again.status == ReconciliationRun.Status.CLEAN


@pytest.mark.django_db
def test_asking_needs_run_reconciliation_and_a_missing_payment(
    client, events, django_capture_on_commit_callbacks
):
    customer = UserFactory()
    lost = sandbox_topup(customer, "30.00", django_capture_on_commit_callbacks, confirm=False)
    paid = sandbox_topup(customer, "10.00", django_capture_on_commit_callbacks)
    run = run_today()
    item = item_of(run, lost.gateway_payment_id)
    client.force_login(clerk_with("view_reconciliationrun"))
    assert ask_url(item) not in run_page(client, run)
    assert client.post(ask_url(item)).status_code == 403
    lost.refresh_from_db()
    assert lost.status == Payment.Status.PENDING
    # A matched payment is not asked about.
    client.force_login(clerk_with("run_reconciliation", "view_reconciliationrun"))
    response = client.post(ask_url(item_of(run, paid.gateway_payment_id)), follow=True)
    assert "Only a payment missing in the ledger" in response.content.decode()
    assert not ReconciliationItem.objects.filter(resolved_at__isnull=False).exists()
    # An item that does not exist goes back to the runs.
    missing = reverse("admin:billing_reconciliationrun_ask_gateway", args=["999999"])
    response = client.post(missing)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:billing_reconciliationrun_changelist")


# --- Book this refund ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_orders_refund_made_at_the_gateway_is_booked_once_from_the_run_page(
    client, clerk, events, django_capture_on_commit_callbacks
):
    _order, payment = sandbox_order("12.00", django_capture_on_commit_callbacks)
    outside = gateway_refund(payment, "5.00", "dashboard-1")
    refunded_before = payment.refunded_amount
    run = run_today()
    item = item_of(run, outside.refund_id)
    assert (item.result, item.payment, item.refund) == (Result.MISSING_IN_LEDGER, payment, None)
    assert book_url(item) in run_page(client, run)
    page = client.get(book_url(item))
    assert page.status_code == 200
    assert payment.receipt_number in page.content.decode()
    entries = JournalEntry.objects.count()

    # No note: the form's error, nothing written.
    response = client.post(book_url(item), {"note": "  "})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert JournalEntry.objects.count() == entries

    response = client.post(book_url(item), {"note": "Refunded by phone, ticket 42"})
    assert response.status_code == 302
    entry = JournalEntry.objects.get(idempotency_key=f"gateway-refund:sandbox:{outside.refund_id}")
    assert (entry.kind, entry.created_by, entry.payment) == (
        JournalEntry.Kind.REFUND,
        clerk,
        payment,
    )
    for part in (outside.refund_id, payment.receipt_number, "Refunded by phone, ticket 42"):
        assert part in entry.memo
    assert lines_of(entry) == {"4100-USD": Decimal("5.00"), "1100-USD": Decimal("-5.00")}
    payment.refresh_from_db()
    assert payment.refunded_amount == refunded_before  # the gateway's event says that
    item.refresh_from_db()
    assert (item.resolved_entry, item.resolved_by, item.resolution_note) == (
        entry,
        clerk,
        "Refunded by phone, ticket 42",
    )
    html = run_page(client, run)
    assert f"Booked in the ledger by {clerk}" in html
    assert reverse("admin:billing_journalentry_change", args=[entry.pk]) in html
    assert book_url(item) not in html
    # A second click returns the first entry.
    assert client.post(book_url(item), {"note": "again"}).status_code == 302
    assert JournalEntry.objects.count() == entries + 1
    item.refresh_from_db()
    assert item.resolution_note == "Refunded by phone, ticket 42"
    # The range matches now: the ledger's refund is found by the new key.
    again = run_today()
    matched = item_of(again, outside.refund_id)
    assert (matched.result, matched.ledger_amount, matched.entry) == (
        Result.MATCHED,
        Decimal("-5.00"),
        entry,
    )
    assert again.status == ReconciliationRun.Status.CLEAN


@pytest.mark.django_db
def test_a_top_ups_refund_made_at_the_gateway_leaves_the_wallet(
    client, clerk, events, django_capture_on_commit_callbacks
):
    customer = UserFactory()
    topup = sandbox_topup(customer, "20.00", django_capture_on_commit_callbacks)
    wallet = wallet_get(user=customer, currency="USD")
    outside = gateway_refund(topup, "8.00", "dashboard-2")
    item = item_of(run_today(), outside.refund_id)
    response = client.post(book_url(item), {"note": "Chargeback settled"})
    assert response.status_code == 302
    entry = JournalEntry.objects.get(idempotency_key=f"gateway-refund:sandbox:{outside.refund_id}")
    assert lines_of(entry) == {wallet.code: Decimal("8.00"), "1100-USD": Decimal("-8.00")}
    assert balance_of(wallet) == Decimal("12.00")
    assert item_of(run_today(), outside.refund_id).result == Result.MATCHED


@pytest.mark.django_db
def test_a_wallet_holding_less_is_refused_and_nothing_is_written(
    client, clerk, events, django_capture_on_commit_callbacks
):
    customer = UserFactory()
    topup = sandbox_topup(customer, "20.00", django_capture_on_commit_callbacks)
    wallet = wallet_get(user=customer, currency="USD")
    wallet_debit(
        wallet=wallet,
        amount=Money("15.00", "USD"),
        destination=Purpose.SALES_REVENUE,
        idempotency_key="spent",
        kind=JournalEntry.Kind.PURCHASE,
    )
    outside = gateway_refund(topup, "8.00", "dashboard-3")
    item = item_of(run_today(), outside.refund_id)
    entries = JournalEntry.objects.count()

    response = client.post(book_url(item), {"note": "Chargeback settled"})

    assert response.status_code == 200
    assert "holds 5.00 USD, less than the 8.00 USD refunded" in response.content.decode()
    assert JournalEntry.objects.count() == entries
    assert balance_of(wallet) == Decimal("5.00")
    item.refresh_from_db()
    assert (item.resolved_at, item.resolved_entry) == (None, None)


@pytest.mark.django_db
def test_booking_is_refused_for_what_is_not_a_gateway_refund_of_ours(
    events, django_capture_on_commit_callbacks
):
    finance = UserFactory(is_staff=True)
    customer = UserFactory()
    topup = sandbox_topup(customer, "20.00", django_capture_on_commit_callbacks)
    lost = sandbox_topup(customer, "9.00", django_capture_on_commit_callbacks, confirm=False)
    outside = gateway_refund(topup, "3.00", "dashboard-4")
    run = run_today()
    refund = item_of(run, outside.refund_id)
    entries = JournalEntry.objects.count()

    def refused(item, note="Because") -> str:
        with pytest.raises(ReconciliationRefused) as error:
            gateway_refund_book(item_id=item.pk, booked_by=finance, note=note)
        return str(error.value)

    assert "Only a refund missing" in refused(item_of(run, topup.gateway_payment_id))
    assert "Only a refund missing" in refused(item_of(run, lost.gateway_payment_id))
    assert "Say why" in refused(refund, note=" ")
    ReconciliationItem.objects.filter(pk=refund.pk).update(currency="EUR", gateway_currency="EUR")
    assert "the payment is in USD" in refused(refund)
    ReconciliationItem.objects.filter(pk=refund.pk).update(payment=None)
    assert "not linked to one of our payments" in refused(refund)
    assert JournalEntry.objects.count() == entries
    assert not ReconciliationItem.objects.filter(resolved_at__isnull=False).exists()


@pytest.mark.django_db
def test_booking_needs_run_reconciliation(client, events, django_capture_on_commit_callbacks):
    customer = UserFactory()
    topup = sandbox_topup(customer, "20.00", django_capture_on_commit_callbacks)
    outside = gateway_refund(topup, "3.00", "dashboard-5")
    run = run_today()
    item = item_of(run, outside.refund_id)
    client.force_login(clerk_with("view_reconciliationrun"))
    assert book_url(item) not in run_page(client, run)
    assert client.get(book_url(item)).status_code == 403
    assert client.post(book_url(item), {"note": "Because"}).status_code == 403
    assert not JournalEntry.objects.filter(kind=JournalEntry.Kind.REFUND).exists()


# --- Two clicks at once --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_clicks_at_once_post_one_entry():
    if connection.vendor != "postgresql":
        pytest.skip("the race needs PostgreSQL")
    customer = UserFactory()
    wallet = wallet_get(user=customer, currency="USD")
    fund(wallet, "50.00")
    system_account_get(purpose=Purpose.GATEWAY_CLEARING, currency="USD")
    payment = payment_make(
        customer, "20.00", status=Payment.Status.SUCCEEDED, gateway_payment_id="sbx_pi_race"
    )
    run = ReconciliationRun.objects.create(
        gateway="sandbox", start=today(), end=today(), status=ReconciliationRun.Status.DISCREPANCIES
    )
    item = ReconciliationItem.objects.create(
        run=run,
        result=Result.MISSING_IN_LEDGER,
        kind=ReconciliationItem.Kind.REFUND,
        reference="sbx_re_race",
        payment=payment,
        currency="USD",
        gateway_amount=Decimal("-5.00"),
        gateway_currency="USD",
        occurred_at=run.ran_at,
    )
    finance = UserFactory(is_staff=True)
    start = threading.Barrier(2)

    def click(n: int) -> int:
        try:
            start.wait()
            entry = gateway_refund_book(item_id=item.pk, booked_by=finance, note=f"click {n}")
            return entry.pk
        finally:
            connection.close()

    with ThreadPoolExecutor(2) as pool:
        entry_ids = list(pool.map(click, range(2)))

    assert entry_ids[0] == entry_ids[1]
    assert (
        JournalEntry.objects.filter(idempotency_key="gateway-refund:sandbox:sbx_re_race").count()
        == 1
    )
    assert balance_of(wallet) == Decimal("45.00")
    item.refresh_from_db()
    assert item.resolved_entry_id == entry_ids[0]
    assert item.resolution_note in ("click 0", "click 1")
