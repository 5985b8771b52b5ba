"""Gateway payouts: one entry per payout (bank and fees against clearing), recorded once,
a second recording with other figures refused; the admin's page; payouts in a reconciliation."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from djmoney.money import Money

from billing.exceptions import PayoutRefused
from billing.models import GatewayPayout, JournalEntry, LedgerAccount, ReconciliationItem
from billing.services.payouts import payout_record
from billing.services.reconciliation import reconciliation_run
from tests.billing.order_support import entry_postings
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
Purpose = LedgerAccount.Purpose
RECORD_URL = "/admin/billing/gatewaypayout/record/"


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


def record(clerk, reference="po_1", **fields):
    values = {
        "gateway": "stripe",
        "reference": reference,
        "currency": "USD",
        "paid_on": date(2026, 3, 2),
        "amount_to_bank": usd("95.00"),
        "fees": usd("5.00"),
        "recorded_by": clerk,
        "note": "March statement",
        **fields,
    }
    return payout_record(**values)


@pytest.fixture
def clerk():
    return UserFactory(is_staff=True)


def test_a_payout_debits_bank_and_fees_and_credits_clearing(clerk):
    payout = record(clerk)
    assert entry_postings("payout:stripe:po_1") == {
        Purpose.BANK: Decimal("95.00"),
        Purpose.GATEWAY_FEES: Decimal("5.00"),
        Purpose.GATEWAY_CLEARING: Decimal("-100.00"),
    }
    entry = payout.entry
    assert (entry.kind, entry.created_by) == (JournalEntry.Kind.PAYOUT, clerk)
    assert "po_1" in entry.memo and "March statement" in entry.memo
    assert (payout.amount, payout.fees, payout.currency, payout.paid_on) == (
        Decimal("95.00"),
        Decimal("5.00"),
        "USD",
        date(2026, 3, 2),
    )


def test_a_payout_without_fees_has_two_lines(clerk):
    record(clerk, reference="po_nofee", fees=usd("0"))
    assert entry_postings("payout:stripe:po_nofee") == {
        Purpose.BANK: Decimal("95.00"),
        Purpose.GATEWAY_CLEARING: Decimal("-95.00"),
    }


def test_recording_the_same_payout_twice_returns_the_first(clerk):
    first = record(clerk)
    again = record(UserFactory(is_staff=True), note="typed again")
    assert again.pk == first.pk
    assert GatewayPayout.objects.count() == 1
    assert JournalEntry.objects.filter(kind=JournalEntry.Kind.PAYOUT).count() == 1


@pytest.mark.parametrize(
    ("amount", "fees", "currency"),
    [("96.00", "5.00", "USD"), ("95.00", "4.00", "USD"), ("95.00", "5.00", "EUR")],
)
def test_the_same_reference_with_other_figures_is_refused(clerk, amount, fees, currency):
    record(clerk)
    with pytest.raises(PayoutRefused, match=r"po_1 was already recorded with 95\.00 USD"):
        record(
            clerk,
            amount_to_bank=Money(Decimal(amount), currency),
            fees=Money(Decimal(fees), currency),
            currency=currency,
        )
    assert GatewayPayout.objects.count() == 1
    assert JournalEntry.objects.filter(kind=JournalEntry.Kind.PAYOUT).count() == 1


def test_the_same_reference_at_another_gateway_is_another_payout(clerk):
    record(clerk)
    record(clerk, gateway="sandbox")
    assert GatewayPayout.objects.count() == 2


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"gateway": "counter"}, "Stripe or the sandbox"),
        ({"reference": "  "}, "reference"),
        ({"amount_to_bank": usd("0")}, "more than zero"),
        ({"fees": usd("-1")}, "negative"),
        ({"currency": "EUR"}, "payout's currency"),
        ({"amount_to_bank": usd("1.005")}, "decimal places"),
    ],
)
def test_bad_payouts_are_refused_and_write_nothing(clerk, fields, message):
    with pytest.raises(PayoutRefused, match=message):
        record(clerk, **fields)
    assert not GatewayPayout.objects.exists()
    assert not JournalEntry.objects.filter(kind=JournalEntry.Kind.PAYOUT).exists()


def test_a_recorded_payout_the_sandbox_never_made_is_missing_at_the_gateway(clerk):
    """The sandbox makes no payouts: a payout recorded against it is reported, as a mistyped
    gateway would be."""
    day = timezone.localdate()
    payout = record(clerk, gateway="sandbox", reference="po_typo", paid_on=day)
    run = reconciliation_run(gateway="sandbox", start=day, end=day, run_by=None)
    item = run.items.get()
    assert (item.kind, item.result, item.reference) == (
        ReconciliationItem.Kind.PAYOUT,
        ReconciliationItem.Result.MISSING_AT_GATEWAY,
        "po_typo",
    )
    assert (item.ledger_amount, item.gateway_amount, item.payout, item.entry) == (
        Decimal("-95.00"),
        None,
        payout,
        payout.entry,
    )
    assert run.totals["USD"]["ledger_payouts"] == "-95.00"


# --- The admin -----------------------------------------------------------------------------


def staff_with(*codenames):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


def form(**fields):
    return {
        "gateway": "stripe",
        "reference": "po_admin",
        "currency": "usd",
        "paid_on": "2026-03-02",
        "amount": "95.00",
        "fees": "5.00",
        "note": "",
        **fields,
    }


def test_url_names():
    assert reverse("admin:billing_gatewaypayout_record") == RECORD_URL
    assert reverse("admin:billing_gatewaypayout_changelist").endswith("/gatewaypayout/")


def test_recording_from_the_admin(client):
    clerk = staff_with("record_payout", "view_gatewaypayout")
    client.force_login(clerk)
    response = client.post(RECORD_URL, form())
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:billing_gatewaypayout_changelist")
    payout = GatewayPayout.objects.get()
    assert (payout.reference, payout.currency, payout.amount, payout.fees, payout.recorded_by) == (
        "po_admin",
        "USD",
        Decimal("95.00"),
        Decimal("5.00"),
        clerk,
    )
    listing = client.get(response["Location"])
    assert listing.status_code == 200
    assert b"po_admin" in listing.content
    # The same payout with another amount: the form says why, nothing new is written.
    again = client.post(RECORD_URL, form(amount="90.00"))
    assert again.status_code == 200
    assert "already recorded" in again.content.decode()
    assert GatewayPayout.objects.count() == 1


def test_the_record_page_is_prefilled_from_the_query_string(client):
    client.force_login(staff_with("record_payout"))
    page = client.get(RECORD_URL, {"gateway": "stripe", "reference": "po_seen", "amount": "12.34"})
    html = page.content.decode()
    assert page.status_code == 200
    assert 'value="po_seen"' in html and 'value="12.34"' in html


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"amount": "0"}, "Enter an amount above zero."),
        ({"amount": "abc"}, "Enter a number."),
        ({"fees": "-1"}, "The fees cannot be negative."),
        ({"currency": "XYZ"}, "does not keep XYZ"),
        ({"currency": "JPY", "amount": "10.50"}, "at most 0 decimal places"),
        ({"paid_on": (date.today() + timedelta(days=3)).isoformat()}, "in the future"),
        ({"reference": ""}, "This field is required."),
        ({"gateway": "counter"}, "Select a valid choice."),
    ],
)
def test_bad_input_on_the_record_page_is_an_error(client, fields, error):
    client.force_login(staff_with("record_payout"))
    response = client.post(RECORD_URL, form(**fields))
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not GatewayPayout.objects.exists()


def test_the_payout_pages_need_their_permissions(client):
    client.force_login(staff_with("view_gatewaypayout"))
    assert client.get(RECORD_URL).status_code == 403
    assert client.post(RECORD_URL, form()).status_code == 403
    assert not GatewayPayout.objects.exists()
    assert client.get(reverse("admin:billing_gatewaypayout_changelist")).status_code == 200
    client.force_login(staff_with("record_payout"))
    assert client.get(reverse("admin:billing_gatewaypayout_changelist")).status_code == 403
