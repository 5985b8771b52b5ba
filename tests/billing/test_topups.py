"""Top-up rules: limits per currency, bonus tiers, starting a payment, the confirmation email."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone
from djmoney.money import Money

from billing.exceptions import PaymentError, TopupRefused
from billing.gateways import GatewayError
from billing.gateways.sandbox import SandboxGateway
from billing.models import BonusTier, JournalEntry, LedgerAccount, Payment
from billing.services.payments import payment_confirmation_send
from billing.services.topups import (
    counter_topup_record,
    topup_amount_check,
    topup_bonus,
    topup_limits,
    topup_start,
)
from tests.billing.payment_support import payment_make
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
Purpose = LedgerAccount.Purpose


def tier(currency="CNY", min_amount="100", percent=None, fixed=None, **fields):
    return BonusTier.objects.create(
        name="Promo",
        currency=currency,
        min_amount=Decimal(min_amount),
        percent=Decimal(percent) if percent else None,
        fixed_bonus=Decimal(fixed) if fixed else None,
        **fields,
    )


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("9.99", "The minimum top-up is 10.00 CNY."),
        ("3000.01", "The maximum top-up is 3000.00 CNY."),
        ("10.001", "Amounts in CNY have at most 2 decimal places."),
    ],
)
def test_amounts_outside_the_limits_are_refused_with_the_limit(amount, message):
    with pytest.raises(TopupRefused, match=message.replace(".", r"\.")):
        topup_amount_check(Money(Decimal(amount), "CNY"))


def test_limits_and_presets_come_from_settings(settings):
    settings.SIMDESK_TOPUP_LIMITS = {"USD": {"min": "1", "max": "9", "presets": ["2", "5"]}}
    limits = topup_limits("USD")
    assert (limits.minimum, limits.maximum) == (Money(1, "USD"), Money(9, "USD"))
    assert limits.presets == [Money(2, "USD"), Money(5, "USD")]
    with pytest.raises(TopupRefused, match="not offered"):
        topup_limits("CNY")


def test_the_most_generous_live_tier_applies():
    small = tier(min_amount="100", percent="5")
    big = tier(min_amount="500", fixed="30")
    tier(min_amount="100", percent="50", is_active=False)
    tier(min_amount="100", percent="40", starts_at=timezone.now() + timedelta(days=1))
    tier(
        min_amount="100",
        percent="30",
        starts_at=timezone.now() - timedelta(days=2),
        ends_at=timezone.now() - timedelta(days=1),
    )
    tier(currency="USD", min_amount="1", percent="60")
    assert topup_bonus(Money("99.99", "CNY")) == (None, Money(0, "CNY"))
    assert topup_bonus(Money("100", "CNY")) == (small, Money("5.00", "CNY"))
    # 5% of 500 is 25, the fixed 30 is more.
    assert topup_bonus(Money("500", "CNY")) == (big, Money("30", "CNY"))
    # 5% of 700 is 35, more than the fixed 30.
    assert topup_bonus(Money("700", "CNY")) == (small, Money("35.00", "CNY"))


def test_a_percentage_bonus_rounds_down_to_the_minor_unit():
    tier(min_amount="10", percent="3.33")
    assert topup_bonus(Money("10.99", "CNY"))[1] == Money("0.36", "CNY")


def test_the_bonus_is_credited_from_promotions(customer):
    tier(currency="USD", min_amount="50", percent="5")
    payment = counter_topup_record(
        customer=customer,
        amount=Money("100", "USD"),
        method=Payment.Method.CASH,
        reference="slip 7",
        actor=UserFactory(is_staff=True),
        request_token=uuid.uuid4(),
    )
    assert (payment.status, payment.bonus) == (Payment.Status.SUCCEEDED, Decimal("5.00"))
    entry = JournalEntry.objects.get(payment=payment)
    lines = {p.account.purpose: p.amount for p in entry.postings.select_related("account")}
    assert lines == {
        Purpose.CASH_ON_HAND: Decimal("100.00"),
        Purpose.PROMOTIONS: Decimal("5.00"),
        Purpose.CUSTOMER_WALLET: Decimal("-105.00"),
    }
    assert entry.kind == JournalEntry.Kind.COUNTER_TOPUP


def test_a_method_that_is_not_offered_is_refused(customer):
    with pytest.raises(TopupRefused, match="not available"):
        topup_start(
            customer=customer,
            amount=Money("20", "USD"),
            method=Payment.Method.ALIPAY,  # Stripe is off: only the sandbox takes payments
            request_token=uuid.uuid4(),
            return_url=lambda p: "http://testserver/",
            cancel_url="http://testserver/",
            webhook_url="http://testserver/pay/webhooks/sandbox/",
        )
    assert not Payment.objects.exists()


def test_a_gateway_that_refuses_to_start_leaves_a_failed_payment_and_no_money(
    customer, monkeypatch
):
    def refuse(self, **kwargs):
        raise GatewayError("gateway unavailable")

    monkeypatch.setattr(SandboxGateway, "checkout_start", refuse)
    with pytest.raises(PaymentError, match="Nothing was charged"):
        topup_start(
            customer=customer,
            amount=Money("20", "USD"),
            method=Payment.Method.SANDBOX,
            request_token=uuid.uuid4(),
            return_url=lambda p: "http://testserver/",
            cancel_url="http://testserver/",
            webhook_url="http://testserver/pay/webhooks/sandbox/",
        )
    payment = Payment.objects.get()
    assert payment.status == Payment.Status.FAILED
    assert not JournalEntry.objects.filter(payment=payment).exists()


def test_the_confirmation_email_is_in_the_customers_language_and_sent_once():
    customer = UserFactory(preferred_language="zh-hans")
    payment = counter_topup_record(
        customer=customer,
        amount=Money("200", "CNY"),
        method=Payment.Method.BANK_TRANSFER,
        reference="TRX-1",
        actor=UserFactory(is_staff=True),
        request_token=uuid.uuid4(),
    )
    mail.outbox.clear()
    assert payment_confirmation_send(payment_id=payment.pk) is True
    assert payment_confirmation_send(payment_id=payment.pk) is False
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [customer.email]
    assert "充值" in message.subject
    assert "200.00 CNY" in message.body
    assert payment.receipt_number in message.body


def test_no_confirmation_for_a_payment_that_did_not_arrive(customer):
    payment = payment_make(customer, status=Payment.Status.FAILED)
    assert payment_confirmation_send(payment_id=payment.pk) is False
    assert mail.outbox == []
