"""Wallet services: credit, debit, and finance's adjustments with who and why."""

from decimal import Decimal

import pytest
from djmoney.money import Money

from billing.exceptions import InsufficientFunds, InvalidLines
from billing.models import JournalEntry, LedgerAccount
from billing.services.ledger import system_account_get
from billing.services.wallets import wallet_adjust, wallet_credit, wallet_debit
from tests.billing.conftest import balance_of, fund, key
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
Purpose = LedgerAccount.Purpose
Kind = JournalEntry.Kind


def test_credit_and_debit_move_the_wallet_and_their_counterpart(wallet):
    clearing = system_account_get(purpose=Purpose.GATEWAY_CLEARING, currency="USD")
    entry = wallet_credit(
        wallet=wallet,
        amount=Money("25.00", "USD"),
        source=Purpose.GATEWAY_CLEARING,
        idempotency_key=key(),
        kind=Kind.TOPUP,
    )
    assert sorted(entry.postings.values_list("account_id", "amount")) == sorted(
        [(clearing.pk, Decimal("25.00")), (wallet.pk, Decimal("-25.00"))]
    )
    wallet_debit(
        wallet=wallet,
        amount=Money("24.99", "USD"),
        destination=Purpose.SALES_REVENUE,
        idempotency_key=key(),
        kind=Kind.PURCHASE,
    )
    assert balance_of(wallet) == Decimal("0.01")


@pytest.mark.parametrize("amount", ["0", "-5.00"])
def test_a_wallet_move_must_be_positive(wallet, amount):
    with pytest.raises(InvalidLines, match="positive"):
        wallet_credit(
            wallet=wallet,
            amount=Money(amount, "USD"),
            source=Purpose.CASH_ON_HAND,
            idempotency_key=key(),
            kind=Kind.COUNTER_TOPUP,
        )
    assert not JournalEntry.objects.exists()


def test_a_business_account_is_not_a_wallet():
    cash = system_account_get(purpose=Purpose.CASH_ON_HAND, currency="USD")
    with pytest.raises(InvalidLines, match="not a customer's wallet"):
        wallet_debit(
            wallet=cash,
            amount=Money("1.00", "USD"),
            destination=Purpose.SALES_REVENUE,
            idempotency_key=key(),
            kind=Kind.PURCHASE,
        )


def test_an_adjustment_records_who_and_why_against_adjustments(wallet):
    clerk = UserFactory(is_staff=True)
    adjustments = system_account_get(purpose=Purpose.ADJUSTMENTS, currency="USD")
    credit = wallet_adjust(
        wallet=wallet,
        amount=Money("8.00", "USD"),
        credit=True,
        reason="  Refund for a dropped connection  ",
        actor=clerk,
        idempotency_key="adjust:a",
    )
    debit = wallet_adjust(
        wallet=wallet,
        amount=Money("3.00", "USD"),
        credit=False,
        reason="Duplicate credit",
        actor=clerk,
        idempotency_key="adjust:b",
    )
    assert (credit.kind, credit.memo, credit.created_by) == (
        Kind.ADJUSTMENT,
        "Refund for a dropped connection",
        clerk,
    )
    assert debit.memo == "Duplicate credit"
    assert balance_of(wallet) == Decimal("5.00")
    assert balance_of(adjustments) == Decimal("5.00")  # an expense: what the corrections cost


def test_an_adjustment_needs_a_reason_and_cannot_overdraw(wallet):
    clerk = UserFactory(is_staff=True)
    with pytest.raises(InvalidLines, match="reason"):
        wallet_adjust(
            wallet=wallet,
            amount=Money("1.00", "USD"),
            credit=True,
            reason="   ",
            actor=clerk,
            idempotency_key="adjust:c",
        )
    fund(wallet, "2.00")
    with pytest.raises(InsufficientFunds) as refused:
        wallet_adjust(
            wallet=wallet,
            amount=Money("2.50", "USD"),
            credit=False,
            reason="Chargeback",
            actor=clerk,
            idempotency_key="adjust:d",
        )
    assert refused.value.shortfall == Money("0.50", "USD")
    assert JournalEntry.objects.filter(kind=Kind.ADJUSTMENT).count() == 0
