"""`manage.py ledger_verify` names every offender; the tests break the ledger on purpose in a
transaction that never commits (so the deferred triggers never get to refuse it)."""

import contextlib
import io
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from billing.models import LedgerAccount
from billing.services.ledger import system_account_get
from tests.billing.conftest import fund, raw_entry, raw_posting

pytestmark = pytest.mark.django_db
Purpose = LedgerAccount.Purpose


@contextlib.contextmanager
def broken_ledger() -> Iterator[None]:
    """Whatever is written inside is rolled back at the end, before the test case's teardown
    fires the deferred checks (which would refuse it)."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def verify() -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("ledger_verify", stdout=out, stderr=err)
    except CommandError as failed:
        return out.getvalue(), err.getvalue(), failed.returncode
    return out.getvalue(), err.getvalue(), 0


def entry_with(cursor, key: str, postings: list[tuple[LedgerAccount, str, str]]) -> int:
    entry_id = raw_entry(cursor, key)
    for account, amount, currency in postings:
        raw_posting(cursor, entry_id, account, amount, currency)
    return entry_id


def test_a_consistent_ledger_verifies(wallet):
    fund(wallet, "12.00")
    out, err, code = verify()
    assert code == 0 and "consistent" in out and err == ""


def test_every_kind_of_offender_is_listed_and_the_exit_code_is_one(wallet):
    with broken_ledger():
        with connection.cursor() as cursor:
            # A wallet below zero needs its CHECK constraint gone (in this transaction only).
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending checks on the table
            cursor.execute(
                "ALTER TABLE billing_ledgeraccount DROP CONSTRAINT billing_wallet_not_negative"
            )
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        fund(wallet, "12.00")
        cash = system_account_get(purpose=Purpose.CASH_ON_HAND, currency="USD")
        with connection.cursor() as cursor:
            unbalanced = entry_with(
                cursor, "bad:1", [(cash, "5.00", "USD"), (wallet, "-4.00", "USD")]
            )
            lonely = entry_with(cursor, "bad:2", [])
            mixed = entry_with(cursor, "bad:3", [(cash, "1.00", "EUR"), (wallet, "-1.00", "EUR")])
            cursor.execute(
                "UPDATE billing_ledgeraccount SET balance = -3 WHERE id = %s", [wallet.pk]
            )

        _out, err, code = verify()

        assert code == 1
        assert f"entry does not balance: entry {unbalanced}: USD postings sum to 1.00" in err
        assert f"entry has fewer than two postings: entry {lonely}: 0" in err
        assert "posting in another currency than its account" in err and "EUR on 1000-USD" in err
        assert f"cached balance differs from its postings: account {wallet.code}" in err
        assert f"wallet below zero: account {wallet.code}: -3.00 USD" in err
        assert f"entry {mixed}" not in err  # it balances per currency; only its postings are wrong


@pytest.mark.ledger_unverified
def test_a_cached_balance_changed_behind_the_ledgers_back_is_found(wallet):
    fund(wallet, "12.00")
    LedgerAccount.objects.filter(pk=wallet.pk).update(balance=Decimal("15.00"))
    _out, err, code = verify()
    assert code == 1
    assert err.strip() == (
        f"cached balance differs from its postings: account {wallet.code}: "
        "cached 15.00, postings 12.00 USD"
    )
