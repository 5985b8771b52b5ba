import itertools
from decimal import Decimal

import pytest
from django.utils import timezone
from djmoney.money import Money

from billing.models import JournalEntry, LedgerAccount
from billing.services import ledger as ledger_service
from billing.services.wallets import wallet_credit, wallet_get
from tests.factories import UserFactory

Purpose = LedgerAccount.Purpose
_keys = itertools.count()


def key(prefix: str = "test") -> str:
    """A fresh idempotency key."""
    return f"{prefix}:{next(_keys)}"


def fund(wallet: LedgerAccount, amount: str, *, source: str = Purpose.CASH_ON_HAND) -> JournalEntry:
    """Put `amount` (in the wallet's currency) into the wallet, as a counter top-up."""
    return wallet_credit(
        wallet=wallet,
        amount=Money(Decimal(amount), wallet.currency),
        source=source,
        idempotency_key=key("fund"),
        kind=JournalEntry.Kind.COUNTER_TOPUP,
    )


def raw_entry(cursor, key: str) -> int:
    """A journal entry written by raw SQL, past the posting service (and its checks)."""
    cursor.execute(
        "INSERT INTO billing_journalentry (kind, memo, idempotency_key, created_at)"
        " VALUES ('transfer', 'raw', %s, %s) RETURNING id",
        [key, timezone.now()],
    )
    return cursor.fetchone()[0]


def raw_posting(
    cursor, entry_id: int, account: LedgerAccount, amount: str, currency: str | None = None
) -> None:
    """A posting written by raw SQL; `currency` defaults to the account's."""
    cursor.execute(
        "INSERT INTO billing_posting (entry_id, account_id, amount, currency)"
        " VALUES (%s, %s, %s, %s)",
        [entry_id, account.pk, Decimal(amount), currency or account.currency],
    )


def balance_of(account: LedgerAccount) -> Decimal:
    account.refresh_from_db(fields=["balance"])
    return account.balance


@pytest.fixture(params=["database function", "orm"])
def ledger_backend(request, monkeypatch):
    """Runs a test through both ways of posting: PostgreSQL's function and the ORM path that
    SQLite (the embedded default) uses."""
    if request.param == "orm":
        monkeypatch.setattr(ledger_service, "uses_database_function", lambda: False)
    return request.param


@pytest.fixture
def customer(db):
    return UserFactory()


@pytest.fixture
def wallet(customer):
    return wallet_get(user=customer, currency="USD")
