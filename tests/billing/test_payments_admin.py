"""Payments in the staff console: money received at the counter, read-only payments and gateway
events, replaying a failed event, bonus tiers."""

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from accounts.roles import FINANCE, RESELLER_STAFF
from billing import forms as billing_forms
from billing.forms import (
    BONUS_BOTH,
    BONUS_NEITHER,
    BONUS_WINDOW,
    PERCENT_RANGE,
    REFERENCE_REQUIRED,
)
from billing.models import BonusTier, GatewayEvent, JournalEntry, LedgerAccount, Payment
from billing.selectors.ledger import wallet_balance
from billing.services.ledger import system_account_get
from billing.services.topups import counter_topup_record
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

Purpose = LedgerAccount.Purpose
Method = Payment.Method

PAYMENTS = "/admin/billing/payment/"
COUNTER_URL = "/admin/billing/payment/counter/"
EVENTS = "/admin/billing/gatewayevent/"
TIERS = "/admin/billing/bonustier/"


def staff(role: str | None = None, **kwargs):
    user = UserFactory(is_staff=True, **kwargs)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def money_received(
    email: str, amount: str, currency: str = "CNY", method: str = Method.CASH, **extra
) -> dict:
    return {
        "email": email,
        "amount": amount,
        "currency": currency,
        "method": method,
        "reference": "",
        "token": str(uuid.uuid4()),
        **extra,
    }


def change_url(obj) -> str:
    opts = obj._meta
    return f"/admin/{opts.app_label}/{opts.model_name}/{obj.pk}/change/"


def postings_by_purpose(payment: Payment) -> dict[str, Decimal]:
    (entry,) = payment.entries.all()
    return dict(entry.postings.values_list("account__purpose", "amount"))


def nothing_written() -> bool:
    return (
        not Payment.objects.exists()
        and not JournalEntry.objects.exists()
        and not LedgerAccount.objects.filter(owner__isnull=False).exists()
    )


@pytest.fixture
def finance():
    return staff(FINANCE, email="finance@example.com")


@pytest.fixture
def reseller():
    return staff(RESELLER_STAFF, email="clerk@example.com")


@pytest.fixture
def wang():
    return UserFactory(email="wang.fang@example.com", preferred_language="zh-hans")


@pytest.fixture
def cny_tier():
    return BonusTier.objects.create(
        name="Five percent", currency="CNY", min_amount=Decimal("100"), percent=Decimal("5")
    )


def sandbox_payment(customer, amount: str = "50.00", currency: str = "USD", **fields) -> Payment:
    """A top-up started at the sandbox gateway, waiting for its webhook."""
    return Payment.objects.create(
        **{
            "customer": customer,
            "purpose": Payment.Purpose.WALLET_TOPUP,
            "amount": Decimal(amount),
            "currency": currency,
            "method": Method.SANDBOX,
            "gateway": Payment.Gateway.SANDBOX,
            "status": Payment.Status.PENDING,
            "gateway_payment_id": f"sbx_pi_{uuid.uuid4().hex[:12]}",
            "redirect_url": "/pay/sandbox/secret-page-token/",
            **fields,
        }
    )


def paid_event(paid: Payment, **fields) -> GatewayEvent:
    """The sandbox's "checkout.session.completed" for a paid payment, as stored."""
    payment = paid
    event_id = f"evt_{uuid.uuid4().hex[:16]}"
    payload = {
        "id": event_id,
        "type": "checkout.session.completed",
        "data": {
            "object": {
                "object": "checkout.session",
                "client_reference_id": str(payment.public_id),
                "payment_intent": payment.gateway_payment_id,
                "payment_status": "paid",
                "amount_total": int(payment.amount * 100),
                "currency": payment.currency.lower(),
                "customer_details": {"name": "王芳"},
            }
        },
    }
    return GatewayEvent.objects.create(
        gateway=payment.gateway,
        event_id=event_id,
        type=payload["type"],
        payload=payload,
        **fields,
    )


# --- Money received at the counter -----------------------------------------------------------
def test_the_counter_page_has_its_admin_url():
    assert reverse("admin:billing_payment_counter") == COUNTER_URL


@pytest.mark.parametrize("role", [RESELLER_STAFF, FINANCE])
def test_staff_record_cash_and_the_wallet_gets_it_with_the_bonus(
    client, django_capture_on_commit_callbacks, role, wang, cny_tier
):
    clerk = staff(role)
    client.force_login(clerk)
    assert COUNTER_URL in client.get(PAYMENTS).content.decode()  # the changelist's button
    page = client.get(COUNTER_URL)
    assert page.status_code == 200
    form = page.context["form"]
    assert [code for code, _label in form.fields["currency"].choices] == [
        "USD",
        "CNY",
        "HKD",
        "EUR",
    ]
    assert [code for code, _label in form.fields["method"].choices] == ["cash", "bank_transfer"]
    token = str(form["token"].value())
    uuid.UUID(token)  # drawn when the page was served

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            COUNTER_URL,
            {
                **money_received("Wang.Fang@Example.com", "100.00", reference=" 0042 "),
                "token": token,
            },
        )

    payment = Payment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:billing_payment_change", args=[payment.pk])
    assert (
        payment.customer,
        payment.amount,
        payment.bonus,
        payment.bonus_tier,
        payment.currency,
        payment.method,
        payment.gateway,
        payment.status,
        payment.reference,
        payment.recorded_by,
        str(payment.request_token),
    ) == (
        wang,
        Decimal("100.00"),
        Decimal("5.00"),
        cny_tier,
        "CNY",
        Method.CASH,
        Payment.Gateway.COUNTER,
        Payment.Status.SUCCEEDED,
        "0042",
        clerk,
        token,
    )
    assert payment.settled_at is not None
    assert wallet_balance(user=wang, currency="CNY").amount == Decimal("105.00")
    assert postings_by_purpose(payment) == {
        Purpose.CASH_ON_HAND: Decimal("100.00"),
        Purpose.PROMOTIONS: Decimal("5.00"),
        Purpose.CUSTOMER_WALLET: Decimal("-105.00"),
    }
    (entry,) = payment.entries.all()
    assert (entry.kind, entry.created_by) == (JournalEntry.Kind.COUNTER_TOPUP, clerk)
    detail = client.get(response["Location"])
    assert detail.status_code == 200
    html = detail.content.decode()
    assert f"#{entry.pk}" in html
    assert COUNTER_URL in html  # record the next one from here
    assert 'id="payment-events"' not in html  # no gateway, no events
    assert [str(m) for m in get_messages(detail.wsgi_request)] == [
        "Recorded 100.00 CNY cash for wang.fang@example.com; wallet credited 105.00 CNY "
        "(incl. 5.00 CNY bonus)."
    ]
    assert [message.to for message in mail.outbox] == [["wang.fang@example.com"]]


@pytest.mark.parametrize("role", [RESELLER_STAFF, FINANCE])
def test_staff_record_a_bank_transfer_against_the_bank_account(client, role, wang):
    clerk = staff(role)
    client.force_login(clerk)

    response = client.post(
        COUNTER_URL,
        money_received(
            wang.email, "80.50", method=Method.BANK_TRANSFER, reference="ICBC 2024-0611-77"
        ),
    )

    payment = Payment.objects.get()
    assert response.status_code == 302
    assert (payment.method, payment.reference, payment.bonus) == (
        Method.BANK_TRANSFER,
        "ICBC 2024-0611-77",
        Decimal("0.00"),
    )
    assert wallet_balance(user=wang, currency="CNY").amount == Decimal("80.50")
    assert postings_by_purpose(payment) == {
        Purpose.BANK: Decimal("80.50"),
        Purpose.CUSTOMER_WALLET: Decimal("-80.50"),
    }
    assert system_account_get(purpose=Purpose.BANK, currency="CNY").balance == Decimal("80.50")
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert messages == [
        "Recorded a bank transfer of 80.50 CNY for wang.fang@example.com; wallet credited "
        "80.50 CNY."
    ]


def test_the_same_form_posted_twice_records_one_payment(client, reseller, wang, cny_tier):
    client.force_login(reseller)
    data = money_received(wang.email, "300.00")

    first = client.post(COUNTER_URL, data)
    second = client.post(COUNTER_URL, data)

    payment = Payment.objects.get()
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == change_url(payment)
    assert JournalEntry.objects.count() == 1
    assert wallet_balance(user=wang, currency="CNY").amount == Decimal("315.00")


def test_the_same_token_with_other_figures_is_refused_with_a_fresh_token(client, reseller, wang):
    client.force_login(reseller)
    data = money_received(wang.email, "50.00")
    client.post(COUNTER_URL, data)
    payment = Payment.objects.get()

    response = client.post(COUNTER_URL, {**data, "amount": "60.00"})

    assert response.status_code == 200
    form = response.context["form"]
    assert form.non_field_errors() == [
        f"This form was already submitted with other figures: {payment.receipt_number} was "
        "recorded then and nothing more was written. Check that payment, then submit again to "
        "record another one."
    ]
    assert form["token"].value() != data["token"]
    assert Payment.objects.count() == 1
    assert wallet_balance(user=wang, currency="CNY").amount == Decimal("50.00")
    again = client.post(COUNTER_URL, {**data, "amount": "60.00", "token": form["token"].value()})
    assert again.status_code == 302
    assert wallet_balance(user=wang, currency="CNY").amount == Decimal("110.00")


@pytest.mark.parametrize(
    ("change", "field", "error"),
    [
        (
            {"email": "nobody@example.com"},
            "email",
            "No customer has the email address nobody@example.com.",
        ),
        ({"amount": "9.99"}, "amount", "The minimum top-up is 10.00 CNY."),
        ({"amount": "0"}, "amount", "The minimum top-up is 10.00 CNY."),
        ({"amount": "3000.01"}, "amount", "The maximum top-up is 3000.00 CNY."),
        ({"amount": "20.005"}, "amount", "Amounts in CNY have at most 2 decimal places."),
        ({"amount": "ten"}, "amount", "Enter a number."),
        ({"method": "card"}, "method", None),
        ({"method": "sandbox"}, "method", None),
        ({"currency": "GBP"}, "currency", None),
        ({"method": Method.BANK_TRANSFER, "reference": "   "}, "reference", REFERENCE_REQUIRED),
        ({"token": ""}, "token", "This form has expired. Open the page again."),
    ],
)
def test_invalid_counter_top_ups_are_refused_and_write_nothing(
    client, finance, wang, change, field, error
):
    client.force_login(finance)

    response = client.post(COUNTER_URL, {**money_received(wang.email, "100.00"), **change})

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == [field]
    if error:
        assert errors[field] == [str(error)]
        assert escape(str(error)) in response.content.decode()
    assert nothing_written()


def test_a_refusal_from_the_service_is_shown_on_the_form(client, finance, wang, monkeypatch):
    # Were the form's own check to let an amount through, the service still refuses it.
    monkeypatch.setattr(billing_forms, "topup_amount_check", lambda amount: None)
    client.force_login(finance)

    response = client.post(COUNTER_URL, money_received(wang.email, "5.00"))

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == ["The minimum top-up is 10.00 CNY."]
    assert nothing_written()


def test_top_up_limits_are_shown_on_the_page(client, finance):
    client.force_login(finance)

    html = client.get(COUNTER_URL).content.decode()

    assert "5.00–500.00 USD, 10.00–3,000.00 CNY, 50.00–4,000.00 HKD, 5.00–500.00 EUR" in html


def test_without_the_permission_nobody_records_money(client, wang):
    viewer = staff()
    viewer.user_permissions.add(Permission.objects.get(codename="view_payment"))
    data = money_received(wang.email, "100.00")

    client.force_login(viewer)
    assert client.get(COUNTER_URL).status_code == 403
    assert client.post(COUNTER_URL, data).status_code == 403
    assert COUNTER_URL not in client.get(PAYMENTS).content.decode()

    client.force_login(UserFactory())  # a customer is sent to the staff login
    for response in (client.get(COUNTER_URL), client.post(COUNTER_URL, data)):
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")

    client.force_login(staff(is_active=True))  # staff with no permission at all
    assert client.get(COUNTER_URL).status_code == 403
    assert client.post(COUNTER_URL, data).status_code == 403
    assert nothing_written()


# --- Payments: read-only pages ----------------------------------------------------------------
def some_payments(count: int) -> list[Payment]:
    clerk = staff(RESELLER_STAFF)
    made = []
    for n in range(count):
        customer = UserFactory()
        if n % 2:
            made.append(sandbox_payment(customer, bonus_tier=None))
        else:
            made.append(
                counter_topup_record(
                    customer=customer,
                    amount=_money("20.00", "USD"),
                    method=Method.CASH,
                    reference=f"slip {n}",
                    actor=clerk,
                    request_token=uuid.uuid4(),
                )
            )
    return made


def _money(amount: str, currency: str):
    from djmoney.money import Money

    return Money(Decimal(amount), currency)


@pytest.mark.parametrize("role", [FINANCE, RESELLER_STAFF])
def test_the_payments_list_costs_the_same_queries_for_three_or_twenty(client, role):
    client.force_login(staff(role))
    some_payments(3)
    client.get(PAYMENTS)  # warm the session and the content types

    with CaptureQueriesContext(connection) as three:
        few = client.get(PAYMENTS)
    some_payments(17)
    with CaptureQueriesContext(connection) as twenty:
        many = client.get(PAYMENTS)

    assert few.status_code == many.status_code == 200
    assert len(few.context["cl"].result_list) == 3
    assert len(many.context["cl"].result_list) == 20
    assert len(three.captured_queries) == len(twenty.captured_queries)


def test_the_list_shows_each_payment_in_words_and_money(client, finance, wang, cny_tier):
    payment = counter_topup_record(
        customer=wang,
        amount=_money("1000.00", "CNY"),
        method=Method.CASH,
        reference="",
        actor=finance,
        request_token=uuid.uuid4(),
    )
    client.force_login(finance)

    response = client.get(PAYMENTS)

    html = response.content.decode()
    assert payment.receipt_number in html
    assert "wang.fang@example.com" in html
    assert '<span class="money">1,000.00 CNY</span>' in html
    assert '<span class="money">50.00 CNY</span>' in html
    for label in ("Wallet top-up", "Cash at the counter", "Store counter or bank", "Succeeded"):
        assert label in html


def test_search_finds_a_payment_by_each_of_its_references(client, finance, wang):
    counter = counter_topup_record(
        customer=wang,
        amount=_money("20.00", "CNY"),
        method=Method.BANK_TRANSFER,
        reference="BOC-7731",
        actor=finance,
        request_token=uuid.uuid4(),
    )
    online = sandbox_payment(UserFactory(email="alice@example.com"))
    client.force_login(finance)

    def found(term: str) -> list[Payment]:
        return list(client.get(PAYMENTS, {"q": term}).context["cl"].result_list)

    assert found("wang.fang@") == [counter]
    assert found("boc-7731") == [counter]
    assert found(online.gateway_payment_id) == [online]
    assert found(str(online.public_id)) == [online]
    assert found(counter.receipt_number) == [counter]
    assert found(counter.receipt_number.lower()) == [counter]
    assert found("no-such-thing") == []


def test_filter_shows_payments_open_for_more_than_ten_minutes(client, finance):
    now = timezone.now()
    stuck = sandbox_payment(UserFactory(), created_at=now - timedelta(minutes=11))
    sandbox_payment(UserFactory(), created_at=now - timedelta(minutes=9))  # still young
    sandbox_payment(  # old, but settled
        UserFactory(),
        created_at=now - timedelta(hours=1),
        status=Payment.Status.FAILED,
    )
    client.force_login(finance)

    response = client.get(PAYMENTS, {"waiting": "10m"})

    assert list(response.context["cl"].result_list) == [stuck]
    assert "Open for more than 10 minutes" in response.content.decode()


def test_finance_sees_a_payment_with_its_entries_and_events(client, finance, wang):
    payment = sandbox_payment(wang, currency="CNY", amount="200.00")
    event = paid_event(payment, status=GatewayEvent.Status.PROCESSED, payment=payment)
    from billing.services.payments import payment_capture

    payment_capture(payment_id=payment.pk)
    (entry,) = payment.entries.all()
    client.force_login(finance)

    response = client.get(change_url(payment))

    assert response.status_code == 200
    html = response.content.decode()
    assert str(payment.public_id) in html
    assert payment.gateway_payment_id in html
    assert "200.00 CNY" in html
    assert reverse("admin:billing_journalentry_change", args=[entry.pk]) in html
    assert reverse("admin:billing_gatewayevent_change", args=[event.pk]) in html
    assert event.event_id in html
    gateway_clearing = system_account_get(purpose=Purpose.GATEWAY_CLEARING, currency="CNY")
    assert reverse("admin:billing_ledgeraccount_statement", args=[gateway_clearing.pk]) in html
    assert "secret-page-token" not in html  # the gateway page is the customer's own
    # And the entry links back to its payment.
    entry_page = client.get(change_url(entry)).content.decode()
    assert change_url(payment) in entry_page


def test_reseller_staff_see_the_payment_but_not_the_ledger_or_events(client, reseller, wang):
    payment = counter_topup_record(
        customer=wang,
        amount=_money("20.00", "CNY"),
        method=Method.CASH,
        reference="",
        actor=reseller,
        request_token=uuid.uuid4(),
    )
    (entry,) = payment.entries.all()
    client.force_login(reseller)

    response = client.get(change_url(payment))

    assert response.status_code == 200
    html = response.content.decode()
    assert f"#{entry.pk}" in html
    assert reverse("admin:billing_journalentry_change", args=[entry.pk]) not in html
    assert "/statement/" not in html
    assert 'id="payment-events"' not in html
    assert client.get(EVENTS).status_code == 403


@pytest.mark.parametrize("role", [FINANCE, RESELLER_STAFF, "superuser"])
def test_nobody_adds_changes_or_deletes_a_payment(client, role, wang):
    user = staff(is_superuser=True) if role == "superuser" else staff(role)
    payment = sandbox_payment(wang)
    client.force_login(user)

    assert client.get(f"{PAYMENTS}add/").status_code == 403
    assert client.post(f"{PAYMENTS}add/", {"amount": "1"}).status_code == 403
    assert client.post(change_url(payment), {"status": "succeeded"}).status_code == 403
    assert client.get(f"{PAYMENTS}{payment.pk}/delete/").status_code == 403
    assert client.post(f"{PAYMENTS}{payment.pk}/delete/", {"post": "yes"}).status_code == 403
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING
    page = client.get(change_url(payment))
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False


# --- Gateway events ---------------------------------------------------------------------------
def test_finance_reads_events_with_their_payload(client, finance, wang):
    payment = sandbox_payment(wang)
    event = paid_event(
        payment,
        status=GatewayEvent.Status.FAILED,
        attempts=3,
        last_error="AmountMismatch: the gateway captured 40.00 USD",
    )
    client.force_login(finance)

    listing = client.get(EVENTS, {"q": event.event_id})
    detail = client.get(change_url(event))

    assert listing.status_code == detail.status_code == 200
    assert list(listing.context["cl"].result_list) == [event]
    html = detail.content.decode()
    assert '<pre class="payload">' in html
    assert "&quot;client_reference_id&quot;: &quot;" in html  # pretty-printed, escaped
    assert '"payment_status": "paid"' not in html
    assert "王芳" in html  # as sent, not \\u escapes
    assert "AmountMismatch: the gateway captured 40.00 USD" in html
    assert client.post(change_url(event), {"status": "processed"}).status_code == 403
    event.refresh_from_db()
    assert event.status == GatewayEvent.Status.FAILED


def test_the_events_list_links_payments_without_a_query_each(client, finance):
    client.force_login(finance)
    for _n in range(3):
        payment = sandbox_payment(UserFactory())
        paid_event(payment, payment=payment)
    client.get(EVENTS)

    with CaptureQueriesContext(connection) as three:
        client.get(EVENTS)
    for _n in range(10):
        payment = sandbox_payment(UserFactory())
        paid_event(payment, payment=payment)
    with CaptureQueriesContext(connection) as thirteen:
        response = client.get(EVENTS)

    assert len(three.captured_queries) == len(thirteen.captured_queries)
    assert change_url(payment) in response.content.decode()


def replay(client, *events: GatewayEvent):
    return client.post(
        EVENTS,
        {"action": "replay_failed", "_selected_action": [event.pk for event in events]},
        follow=True,
    )


def test_replaying_a_failed_event_processes_it(
    client, finance, wang, django_capture_on_commit_callbacks
):
    payment = sandbox_payment(wang, amount="50.00")
    failed = paid_event(payment, status=GatewayEvent.Status.FAILED, attempts=8, last_error="boom")
    done = paid_event(
        sandbox_payment(UserFactory()),
        status=GatewayEvent.Status.PROCESSED,
        processed_at=timezone.now(),
    )
    client.force_login(finance)

    with django_capture_on_commit_callbacks(execute=True):
        response = replay(client, failed, done)

    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == [
        "Replayed 1 failed event.",
        "Skipped 1 event that had not failed: only failed events are replayed.",
    ]
    failed.refresh_from_db()
    assert (failed.status, failed.payment, failed.attempts, failed.last_error) == (
        GatewayEvent.Status.PROCESSED,
        payment,
        9,
        "",
    )
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert wallet_balance(user=wang, currency="USD").amount == Decimal("50.00")
    assert postings_by_purpose(payment) == {
        Purpose.GATEWAY_CLEARING: Decimal("50.00"),
        Purpose.CUSTOMER_WALLET: Decimal("-50.00"),
    }
    done.refresh_from_db()
    assert done.status == GatewayEvent.Status.PROCESSED


def test_viewing_events_is_not_enough_to_replay_them(
    client, wang, django_capture_on_commit_callbacks
):
    viewer = staff()
    viewer.user_permissions.add(Permission.objects.get(codename="view_gatewayevent"))
    failed = paid_event(sandbox_payment(wang), status=GatewayEvent.Status.FAILED)
    client.force_login(viewer)

    page = client.get(EVENTS)
    with django_capture_on_commit_callbacks(execute=True):
        response = replay(client, failed)

    assert "replay_failed" not in page.content.decode()
    assert response.status_code == 200
    failed.refresh_from_db()
    assert failed.status == GatewayEvent.Status.FAILED
    assert not JournalEntry.objects.exists()


def test_reseller_staff_cannot_replay_events(client, reseller, wang):
    failed = paid_event(sandbox_payment(wang), status=GatewayEvent.Status.FAILED)
    client.force_login(reseller)

    response = client.post(EVENTS, {"action": "replay_failed", "_selected_action": [failed.pk]})

    assert response.status_code == 403
    failed.refresh_from_db()
    assert failed.status == GatewayEvent.Status.FAILED


# --- Bonus tiers ------------------------------------------------------------------------------
def tier_form(**change) -> dict:
    data = {
        "name": "Golden week",
        "currency": "CNY",
        "min_amount": "300.00",
        "percent": "5",
        "fixed_bonus": "",
        "starts_at_0": "2024-01-01",
        "starts_at_1": "00:00:00",
        "ends_at_0": "",
        "ends_at_1": "",
        "is_active": "on",
    }
    return {**data, **change}


def test_reseller_staff_keep_bonus_tiers(client, reseller):
    client.force_login(reseller)
    assert client.get(f"{TIERS}add/").status_code == 200

    response = client.post(f"{TIERS}add/", tier_form())
    fixed = client.post(
        f"{TIERS}add/", tier_form(name="Flat", currency="USD", percent="", fixed_bonus="3.50")
    )
    BonusTier.objects.create(  # ended yesterday
        name="Old",
        currency="USD",
        min_amount=Decimal("10"),
        percent=Decimal("1"),
        starts_at=timezone.now() - timedelta(days=9),
        ends_at=timezone.now() - timedelta(days=1),
    )

    assert response.status_code == fixed.status_code == 302
    tier = BonusTier.objects.get(name="Golden week")
    assert (tier.currency, tier.min_amount, tier.percent, tier.fixed_bonus) == (
        "CNY",
        Decimal("300.00"),
        Decimal("5.00"),
        None,
    )
    listing = client.get(TIERS)
    rows = {
        row.name: (
            listing.context["cl"].model_admin.rule(row),
            listing.context["cl"].model_admin.live_now(row),
        )
        for row in listing.context["cl"].result_list
    }
    assert rows == {
        "Golden week": ("+5% on top-ups from 300.00 CNY", True),
        "Flat": ("+3.50 USD on top-ups from 300.00 USD", True),
        "Old": ("+1% on top-ups from 10.00 USD", False),
    }
    assert "+5% on top-ups from 300.00 CNY" in listing.content.decode()
    live = client.get(TIERS, {"live": "yes"}).context["cl"].result_list
    assert {tier.name for tier in live} == {"Golden week", "Flat"}
    tier_page = client.post(change_url(tier), tier_form(percent="8"))
    assert tier_page.status_code == 302
    tier.refresh_from_db()
    assert tier.percent == Decimal("8.00")


@pytest.mark.parametrize(
    ("change", "field", "error"),
    [
        ({"percent": "5", "fixed_bonus": "10.00"}, "fixed_bonus", BONUS_BOTH),
        ({"percent": "", "fixed_bonus": ""}, "percent", BONUS_NEITHER),
        ({"percent": "0"}, "percent", PERCENT_RANGE),
        ({"percent": "100.5"}, "percent", PERCENT_RANGE),
        (
            {"percent": "", "fixed_bonus": "-1.00"},
            "fixed_bonus",
            "Enter an amount greater than zero.",
        ),
        (
            {"percent": "", "fixed_bonus": "1.005"},
            "fixed_bonus",
            "Ensure that there are no more than 2 decimal places.",
        ),
        ({"min_amount": "0"}, "min_amount", "Enter an amount greater than zero."),
        ({"currency": "GBP"}, "currency", None),
        ({"ends_at_0": "2023-12-31", "ends_at_1": "00:00:00"}, "ends_at", BONUS_WINDOW),
    ],
)
def test_bonus_tier_form_explains_what_is_wrong(client, reseller, change, field, error):
    client.force_login(reseller)

    response = client.post(f"{TIERS}add/", tier_form(**change))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == [field]
    if error:
        assert errors[field] == [str(error)]
    assert "Constraint" not in response.content.decode()
    assert not BonusTier.objects.exists()


def test_a_yen_tier_gives_whole_yen(client, reseller, settings):
    settings.SIMDESK_CURRENCIES = [*settings.SIMDESK_CURRENCIES, "JPY"]
    client.force_login(reseller)

    refused = client.post(
        f"{TIERS}add/", tier_form(currency="JPY", min_amount="5000", percent="", fixed_bonus="50.5")
    )
    done = client.post(
        f"{TIERS}add/", tier_form(currency="JPY", min_amount="5000", percent="", fixed_bonus="50")
    )

    assert refused.context["adminform"].form.errors == {
        "fixed_bonus": ["A JPY amount has at most 0 decimal places."]
    }
    assert done.status_code == 302
    assert BonusTier.objects.get().fixed_bonus == Decimal("50")


def test_finance_reads_tiers_but_does_not_change_them(client, finance, cny_tier):
    client.force_login(finance)

    assert client.get(TIERS).status_code == 200
    assert client.get(f"{TIERS}add/").status_code == 403
    assert client.post(change_url(cny_tier), tier_form()).status_code == 403
    cny_tier.refresh_from_db()
    assert cny_tier.name == "Five percent"


# --- The sandbox's own records ----------------------------------------------------------------
def test_sandbox_charges_are_for_superusers_only(client, finance):
    client.force_login(finance)
    assert client.get("/admin/billing/sandboxcharge/").status_code == 403

    client.force_login(staff(is_superuser=True))
    assert client.get("/admin/billing/sandboxcharge/").status_code == 200
    assert client.get("/admin/billing/sandboxcharge/add/").status_code == 403


# --- A double click: two requests with one token at once ---------------------------------------
@pytest.mark.django_db(transaction=True)
def test_two_submissions_racing_with_one_token_record_one_payment(monkeypatch):
    """The second request's insert waits on the first's uncommitted row, then finds it."""
    from billing.services import topups

    clerk = UserFactory(is_staff=True)  # groups from migrations are gone in a flushed database
    customer = UserFactory()
    token = uuid.uuid4()
    first_inserted = threading.Event()
    second_waiting = threading.Event()
    capture = topups.payment_capture

    def capture_after_the_second_arrives(*, payment_id: int) -> Payment:
        # The first request has inserted its payment, not yet committed: let the second run.
        first_inserted.set()
        assert second_waiting.wait(10)
        return capture(payment_id=payment_id)

    monkeypatch.setattr(topups, "payment_capture", capture_after_the_second_arrives)

    def record() -> int:
        try:
            return counter_topup_record(
                customer=customer,
                amount=_money("100.00", "CNY"),
                method=Method.CASH,
                reference="",
                actor=clerk,
                request_token=token,
            ).pk
        finally:
            connection.close()

    def watch_for_the_second() -> None:
        # The second request blocks on the unique index until the first commits.
        try:
            for _n in range(200):
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                    )
                    if cursor.fetchone()[0]:
                        break
                time.sleep(0.05)
        finally:
            second_waiting.set()
            connection.close()

    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(record)
        assert first_inserted.wait(10)
        second = pool.submit(record)
        pool.submit(watch_for_the_second)
        ids = {first.result(timeout=20), second.result(timeout=20)}

    (payment,) = Payment.objects.all()
    assert ids == {payment.pk}
    assert payment.status == Payment.Status.SUCCEEDED
    assert JournalEntry.objects.count() == 1
    assert wallet_balance(user=customer, currency="CNY").amount == Decimal("100.00")
