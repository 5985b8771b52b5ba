"""Property tests: any sequence of credits, debits and transfers in several currencies leaves the
ledger balanced, no wallet below zero, and every cached balance equal to its postings."""

from collections import defaultdict
from decimal import Decimal

import pytest
from django.db import connection, transaction
from djmoney.money import Money
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.exceptions import InsufficientFunds
from billing.models import JournalEntry, LedgerAccount
from billing.selectors.ledger import ledger_problems
from billing.services.ledger import Line, ledger_post
from billing.services.wallets import wallet_credit, wallet_debit, wallet_get
from tests.factories import UserFactory

Purpose = LedgerAccount.Purpose
Kind = JournalEntry.Kind
CURRENCIES = ["USD", "CNY", "JPY"]
WALLETS = 3

operations = st.lists(
    st.tuples(
        st.sampled_from(["credit", "debit", "transfer"]),
        st.integers(0, WALLETS - 1),
        st.integers(0, WALLETS - 1),
        st.sampled_from(CURRENCIES),
        st.integers(1, 5_000),  # minor units
    ),
    max_size=25,
)


class Rollback(Exception):
    """Leaves the example's transaction so each example starts from the same ledger."""


def amount_of(minor: int, currency: str) -> Money:
    exponent = 0 if currency == "JPY" else 2
    return Money(Decimal(minor).scaleb(-exponent), currency)


@pytest.mark.django_db
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_any_sequence_keeps_every_invariant(ledger_backend, ops):
    try:
        with transaction.atomic():
            run(ops)
            raise Rollback
    except Rollback:
        pass


def run(ops: list[tuple[str, int, int, str, int]]) -> None:
    customers = [UserFactory() for _ in range(WALLETS)]
    expected: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    for n, (op, who, other, currency, minor) in enumerate(ops):
        amount = amount_of(minor, currency)
        wallet = wallet_get(user=customers[who], currency=currency)
        key = f"property:{n}"
        try:
            if op == "credit":
                wallet_credit(
                    wallet=wallet,
                    amount=amount,
                    source=Purpose.CASH_ON_HAND,
                    idempotency_key=key,
                    kind=Kind.COUNTER_TOPUP,
                )
                expected[(who, currency)] += amount.amount
            elif op == "debit":
                wallet_debit(
                    wallet=wallet,
                    amount=amount,
                    destination=Purpose.SALES_REVENUE,
                    idempotency_key=key,
                    kind=Kind.PURCHASE,
                )
                expected[(who, currency)] -= amount.amount
            elif who != other:
                payee = wallet_get(user=customers[other], currency=currency)
                ledger_post(
                    lines=[Line(wallet, amount), Line(payee, -amount)],
                    idempotency_key=key,
                    kind=Kind.TRANSFER,
                )
                expected[(who, currency)] -= amount.amount
                expected[(other, currency)] += amount.amount
        except InsufficientFunds as refused:
            # Refused exactly when the model says the wallet holds too little.
            assert expected[(who, currency)] < amount.amount
            assert refused.balance.amount == expected[(who, currency)]
            assert refused.shortfall.amount == amount.amount - expected[(who, currency)]
        # The model never lets a wallet go negative, so neither may the ledger.
        assert expected[(who, currency)] >= 0

    for (who, currency), balance in expected.items():
        stored = LedgerAccount.objects.get(owner=customers[who], currency=currency).balance
        assert stored == balance
    if connection.vendor == "postgresql":
        # The example never commits: fire the deferred balance triggers now.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    assert ledger_problems() == []
