"""The invariants PostgreSQL itself enforces, whatever code (or shell) writes the rows."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from billing.models import JournalEntry, LedgerAccount, Posting
from billing.services.ledger import system_account_get
from tests.billing.conftest import balance_of, fund, raw_entry, raw_posting

Purpose = LedgerAccount.Purpose


@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement", ["UPDATE billing_posting SET amount = 1", "DELETE FROM billing_posting"]
)
def test_postings_cannot_be_updated_or_deleted(wallet, statement):
    fund(wallet, "10.00")
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        connection.cursor().execute(statement)
    assert Posting.objects.filter(account=wallet).get().amount == Decimal("-10.00")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement",
    ["UPDATE billing_journalentry SET memo = 'edited'", "DELETE FROM billing_journalentry"],
)
def test_entries_cannot_be_updated_or_deleted(wallet, statement):
    entry = fund(wallet, "10.00")
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        connection.cursor().execute(statement)
    assert JournalEntry.objects.get(pk=entry.pk).memo == entry.memo


@pytest.mark.django_db(transaction=True)
def test_an_unbalanced_entry_written_by_raw_sql_fails_at_commit(wallet):
    cash = system_account_get(purpose=Purpose.CASH_ON_HAND, currency="USD")
    # Each statement is accepted: the check waits for the commit.
    with (
        pytest.raises(IntegrityError, match="does not balance"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        entry_id = raw_entry(cursor, "raw:unbalanced")
        raw_posting(cursor, entry_id, cash, "10.00")
        raw_posting(cursor, entry_id, wallet, "-9.00")
    assert not JournalEntry.objects.filter(idempotency_key="raw:unbalanced").exists()
    assert not Posting.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_balanced_entry_written_by_raw_sql_commits(wallet):
    cash = system_account_get(purpose=Purpose.CASH_ON_HAND, currency="USD")
    with transaction.atomic(), connection.cursor() as cursor:
        entry_id = raw_entry(cursor, "raw:balanced")
        raw_posting(cursor, entry_id, cash, "10.00")
        raw_posting(cursor, entry_id, wallet, "-10.00")
        # The cached balances are the posting service's job; raw SQL has to keep them too.
        cursor.execute(
            "UPDATE billing_ledgeraccount SET balance = balance + 10 WHERE id IN (%s, %s)",
            [cash.pk, wallet.pk],
        )
    assert Posting.objects.filter(entry_id=entry_id).count() == 2


@pytest.mark.django_db(transaction=True)
def test_an_entry_without_postings_fails_at_commit():
    with pytest.raises(IntegrityError, match="at least two postings"), transaction.atomic():
        raw_entry(connection.cursor(), "raw:empty")
    assert not JournalEntry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_posting_added_later_to_a_committed_entry_must_balance_it(wallet):
    entry = fund(wallet, "10.00")
    cash = system_account_get(purpose=Purpose.CASH_ON_HAND, currency="USD")
    with pytest.raises(IntegrityError, match="does not balance"), transaction.atomic():
        raw_posting(connection.cursor(), entry.pk, cash, "5.00")
    assert entry.postings.count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_posting_in_another_currency_than_its_account_fails(wallet):
    eur_cash = system_account_get(purpose=Purpose.CASH_ON_HAND, currency="EUR")
    with (
        pytest.raises(IntegrityError, match="billing_posting_account_currency"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        entry_id = raw_entry(cursor, "raw:currency")
        raw_posting(cursor, entry_id, eur_cash, "10.00", currency="USD")
        raw_posting(cursor, entry_id, wallet, "-10.00")
    assert not Posting.objects.exists()


@pytest.mark.django_db
def test_a_wallet_below_zero_is_refused_by_a_check_constraint(wallet):
    fund(wallet, "5.00")
    with pytest.raises(IntegrityError, match="billing_wallet_not_negative"), transaction.atomic():
        LedgerAccount.objects.filter(pk=wallet.pk).update(balance=Decimal("-0.01"))
    assert balance_of(wallet) == Decimal("5.00")


@pytest.mark.django_db
def test_a_wallet_must_belong_to_a_customer():
    with (
        pytest.raises(IntegrityError, match="billing_account_wallet_has_owner"),
        transaction.atomic(),
    ):
        LedgerAccount.objects.create(
            code="2100-USD-x",
            name="orphan",
            type="liability",
            purpose="customer_wallet",
            currency="USD",
        )
