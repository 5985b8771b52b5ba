"""Reading the ledger: statements with running balances, the trial balance, wallet balances."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from djmoney.money import Money

from billing.models import JournalEntry, LedgerAccount
from billing.selectors.ledger import (
    account_statement,
    trial_balance,
    wallet_balance,
    wallet_balances,
)
from billing.services.ledger import system_account_get
from billing.services.wallets import wallet_debit, wallet_get
from tests.billing.conftest import fund, key
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
Purpose = LedgerAccount.Purpose


def spend(wallet: LedgerAccount, amount: str) -> JournalEntry:
    return wallet_debit(
        wallet=wallet,
        amount=Money(amount, wallet.currency),
        destination=Purpose.SALES_REVENUE,
        idempotency_key=key("spend"),
        kind=JournalEntry.Kind.PURCHASE,
    )


def test_statement_runs_the_balance_newest_first_across_pages(wallet):
    fund(wallet, "100.00")
    for amount in ("10.00", "20.00", "5.50"):
        spend(wallet, amount)
    fund(wallet, "1.25")

    first = account_statement(account=wallet, page=1, per_page=2)
    second = account_statement(account=wallet, page=2, per_page=2)
    third = account_statement(account=wallet, page=3, per_page=2)

    rows = [(line.change, line.balance) for page in (first, second, third) for line in page.lines]
    assert rows == [
        (Decimal("1.25"), Decimal("65.75")),
        (Decimal("-5.50"), Decimal("64.50")),
        (Decimal("-20.00"), Decimal("70.00")),
        (Decimal("-10.00"), Decimal("90.00")),
        (Decimal("100.00"), Decimal("100.00")),
    ]
    assert first.page.paginator.count == 5 and third.page.number == 3
    assert first.lines[0].entry.kind == JournalEntry.Kind.COUNTER_TOPUP


def test_statement_of_a_business_account_reads_on_its_normal_side(wallet):
    fund(wallet, "40.00")
    spend(wallet, "15.00")
    sales = system_account_get(purpose=Purpose.SALES_REVENUE, currency="USD")
    statement = account_statement(account=sales)
    assert [(line.change, line.balance) for line in statement.lines] == [
        (Decimal("15.00"), Decimal("15.00"))
    ]
    assert statement.lines[0].posting.credit == Decimal("15.00")


def test_an_empty_statement_has_no_lines(wallet):
    statement = account_statement(account=wallet)
    assert statement.lines == [] and statement.page.paginator.count == 0


def test_trial_balance_balances_per_currency_and_sums_wallets(customer):
    usd = wallet_get(user=customer, currency="USD")
    cny = wallet_get(user=customer, currency="CNY")
    other = wallet_get(user=UserFactory(), currency="USD")
    fund(usd, "50.00")
    fund(other, "30.00")
    fund(cny, "200.00")
    spend(usd, "20.00")

    books = {book.currency: book for book in trial_balance()}

    assert set(books) == {"CNY", "USD"}
    usd_rows = {row.account.code: (row.debit, row.credit) for row in books["USD"].rows}
    assert usd_rows == {
        "1000-USD": (Decimal("80.00"), Decimal(0)),
        "2100-USD": (Decimal(0), Decimal("60.00")),  # both customers' wallets, one line
        "4000-USD": (Decimal(0), Decimal("20.00")),
    }
    assert books["USD"].balanced and books["USD"].total_debit == Decimal("80.00")
    assert books["CNY"].balanced and books["CNY"].total_credit == Decimal("200.00")


@pytest.mark.django_db(transaction=True)
def test_trial_balance_at_a_date_leaves_out_later_entries(wallet):
    fund(wallet, "50.00")
    between = timezone.now()
    spend(wallet, "10.00")

    earlier = {book.currency: book for book in trial_balance(at=between)}
    rows = {row.account.code: (row.debit, row.credit) for row in earlier["USD"].rows}
    assert rows == {"1000-USD": (Decimal("50.00"), 0), "2100-USD": (0, Decimal("50.00"))}
    later = {book.currency: book for book in trial_balance(at=timezone.now())}
    rows = {row.account.code: (row.debit, row.credit) for row in later["USD"].rows}
    assert rows["2100-USD"] == (0, Decimal("40.00")) and rows["4000-USD"] == (0, Decimal("10.00"))
    assert later["USD"].balanced
    assert trial_balance(at=between - dt.timedelta(days=1)) == []


def test_wallet_balances(customer):
    assert wallet_balance(user=customer, currency="USD") == Money(0, "USD")
    fund(wallet_get(user=customer, currency="USD"), "7.00")
    fund(wallet_get(user=customer, currency="EUR"), "3.00")
    assert wallet_balance(user=customer, currency="USD") == Money("7.00", "USD")
    assert [(w.currency, w.balance) for w in wallet_balances(user=customer)] == [
        ("EUR", Decimal("3.00")),
        ("USD", Decimal("7.00")),
    ]
