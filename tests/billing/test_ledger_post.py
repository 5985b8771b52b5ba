"""The posting service: what it refuses, what it writes, idempotency, and the cached balances."""

from decimal import Decimal

import pytest
from djmoney.money import Money

from billing.exceptions import IdempotencyConflict, InsufficientFunds, InvalidLines
from billing.models import JournalEntry, LedgerAccount, Posting
from billing.services.ledger import Line, ledger_post, system_account_get
from billing.services.wallets import wallet_get
from tests.billing.conftest import balance_of, fund, key
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
Purpose = LedgerAccount.Purpose
Kind = JournalEntry.Kind


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


def system(purpose: str, currency: str = "USD") -> LedgerAccount:
    return system_account_get(purpose=purpose, currency=currency)


def test_a_balanced_entry_writes_postings_and_moves_cached_balances(ledger_backend, wallet):
    cash, sales = system(Purpose.CASH_ON_HAND), system(Purpose.SALES_REVENUE)
    cash_before, sales_before = balance_of(cash), balance_of(sales)

    entry = ledger_post(
        lines=[Line(cash, usd("30.00")), Line(wallet, usd("-30.00"))],
        idempotency_key="topup:1",
        kind=Kind.COUNTER_TOPUP,
        memo="cash at the counter",
    )
    ledger_post(
        lines=[Line(wallet, usd("12.50")), Line(sales, usd("-12.50"))],
        idempotency_key="order:1",
        kind=Kind.PURCHASE,
    )

    entry.refresh_from_db()
    assert entry.kind == Kind.COUNTER_TOPUP and entry.memo == "cash at the counter"
    assert sorted(entry.postings.values_list("account_id", "amount", "currency")) == sorted(
        [(cash.pk, Decimal("30.00"), "USD"), (wallet.pk, Decimal("-30.00"), "USD")]
    )
    # Balances on each account's normal side: the wallet (a liability) holds what was credited.
    assert balance_of(wallet) == Decimal("17.50")
    assert balance_of(cash) - cash_before == Decimal("30.00")
    assert balance_of(sales) - sales_before == Decimal("12.50")


def test_entry_across_currencies_balances_per_currency(ledger_backend, customer):
    usd_wallet = wallet_get(user=customer, currency="USD")
    cny_wallet = wallet_get(user=customer, currency="CNY")
    entry = ledger_post(
        lines=[
            Line(system(Purpose.CASH_ON_HAND), usd("10.00")),
            Line(usd_wallet, usd("-10.00")),
            Line(system(Purpose.CASH_ON_HAND, "CNY"), Money("70.00", "CNY")),
            Line(cny_wallet, Money("-70.00", "CNY")),
        ],
        idempotency_key=key(),
        kind=Kind.COUNTER_TOPUP,
    )
    assert entry.postings.count() == 4
    assert balance_of(usd_wallet) == Decimal("10.00")
    assert balance_of(cny_wallet) == Decimal("70.00")


@pytest.mark.parametrize(
    ("amounts", "message"),
    [
        (["10.00", "-9.99"], "do not balance"),
        (["10.00", "-10.00", "0.00"], "zero"),
        (["10.005", "-10.005"], "minor units"),
        (["10.00"], "at least two"),
    ],
)
def test_invalid_lines_are_refused_and_nothing_is_written(ledger_backend, wallet, amounts, message):
    accounts = [system(Purpose.CASH_ON_HAND), wallet, system(Purpose.SALES_REVENUE)]
    lines = [Line(account, usd(amount)) for account, amount in zip(accounts, amounts, strict=False)]
    with pytest.raises(InvalidLines, match=message):
        ledger_post(lines=lines, idempotency_key=key(), kind=Kind.TRANSFER)
    assert not Posting.objects.exists()
    assert balance_of(wallet) == 0


def test_a_line_in_another_currency_than_its_account_is_refused(ledger_backend, wallet):
    with pytest.raises(InvalidLines, match="holds USD, not EUR"):
        ledger_post(
            lines=[
                Line(system(Purpose.CASH_ON_HAND, "EUR"), Money("5.00", "EUR")),
                Line(wallet, Money("-5.00", "EUR")),
            ],
            idempotency_key=key(),
            kind=Kind.TRANSFER,
        )
    assert not JournalEntry.objects.exists()


def test_yen_has_no_minor_unit(ledger_backend, customer):
    jpy_wallet = wallet_get(user=customer, currency="JPY")
    cash = system(Purpose.CASH_ON_HAND, "JPY")
    with pytest.raises(InvalidLines, match="minor units"):
        ledger_post(
            lines=[Line(cash, Money("500.50", "JPY")), Line(jpy_wallet, Money("-500.50", "JPY"))],
            idempotency_key=key(),
            kind=Kind.COUNTER_TOPUP,
        )
    ledger_post(
        lines=[Line(cash, Money("500", "JPY")), Line(jpy_wallet, Money("-500", "JPY"))],
        idempotency_key=key(),
        kind=Kind.COUNTER_TOPUP,
    )
    assert balance_of(jpy_wallet) == Decimal("500")


def test_an_empty_or_overlong_key_is_refused(ledger_backend, wallet):
    lines = [Line(system(Purpose.CASH_ON_HAND), usd("1.00")), Line(wallet, usd("-1.00"))]
    for bad in ("", "k" * 201):
        with pytest.raises(InvalidLines, match="idempotency key"):
            ledger_post(lines=lines, idempotency_key=bad, kind=Kind.TRANSFER)
    assert not JournalEntry.objects.exists()


def test_same_key_and_lines_returns_the_first_entry(ledger_backend, wallet):
    lines = [Line(system(Purpose.CASH_ON_HAND), usd("20.00")), Line(wallet, usd("-20.00"))]
    first = ledger_post(lines=lines, idempotency_key="payment:7", kind=Kind.TOPUP)
    # Lines in another order are the same lines.
    again = ledger_post(lines=lines[::-1], idempotency_key="payment:7", kind=Kind.TOPUP)
    assert again.pk == first.pk
    assert JournalEntry.objects.count() == 1
    assert balance_of(wallet) == Decimal("20.00")


def test_same_key_with_other_lines_is_a_conflict(ledger_backend, wallet):
    cash = system(Purpose.CASH_ON_HAND)
    ledger_post(
        lines=[Line(cash, usd("20.00")), Line(wallet, usd("-20.00"))],
        idempotency_key="payment:8",
        kind=Kind.TOPUP,
    )
    with pytest.raises(IdempotencyConflict):
        ledger_post(
            lines=[Line(cash, usd("25.00")), Line(wallet, usd("-25.00"))],
            idempotency_key="payment:8",
            kind=Kind.TOPUP,
        )
    assert JournalEntry.objects.count() == 1
    assert balance_of(wallet) == Decimal("20.00")


def test_a_retry_of_a_debit_that_emptied_the_wallet_returns_it_not_insufficient(
    ledger_backend, wallet
):
    fund(wallet, "10.00")
    lines = [Line(wallet, usd("10.00")), Line(system(Purpose.SALES_REVENUE), usd("-10.00"))]
    first = ledger_post(lines=lines, idempotency_key="order:9:debit", kind=Kind.PURCHASE)
    assert ledger_post(lines=lines, idempotency_key="order:9:debit", kind=Kind.PURCHASE) == first
    assert balance_of(wallet) == 0


def test_overdraft_is_refused_with_balance_and_shortfall(ledger_backend, wallet):
    fund(wallet, "50.00")
    with pytest.raises(InsufficientFunds) as refused:
        ledger_post(
            lines=[Line(wallet, usd("80.00")), Line(system(Purpose.SALES_REVENUE), usd("-80.00"))],
            idempotency_key=key(),
            kind=Kind.PURCHASE,
        )
    assert refused.value.account == wallet
    assert refused.value.balance == usd("50.00")
    assert refused.value.shortfall == usd("30.00")
    assert balance_of(wallet) == Decimal("50.00")
    assert JournalEntry.objects.filter(kind=Kind.PURCHASE).count() == 0


def test_transfer_between_wallets_checks_the_paying_wallet(ledger_backend, wallet):
    other = wallet_get(user=UserFactory(), currency="USD")
    fund(wallet, "5.00")
    with pytest.raises(InsufficientFunds) as refused:
        ledger_post(
            lines=[Line(wallet, usd("6.00")), Line(other, usd("-6.00"))],
            idempotency_key=key(),
            kind=Kind.TRANSFER,
        )
    assert refused.value.account == wallet and refused.value.shortfall == usd("1.00")
    ledger_post(
        lines=[Line(wallet, usd("5.00")), Line(other, usd("-5.00"))],
        idempotency_key=key(),
        kind=Kind.TRANSFER,
    )
    assert (balance_of(wallet), balance_of(other)) == (0, Decimal("5.00"))


def test_business_accounts_may_go_negative(ledger_backend, wallet):
    """Only customers' wallets are held above zero: cash on hand is the business's own."""
    refunds = system(Purpose.SALES_REFUNDS)
    fund(wallet, "3.00")
    ledger_post(
        lines=[Line(refunds, usd("3.00")), Line(wallet, usd("-3.00"))],
        idempotency_key=key(),
        kind=Kind.REFUND,
    )
    assert balance_of(refunds) < 0  # a contra-revenue account shows its debits as negative


def test_the_entry_records_who_and_what(ledger_backend, wallet):
    clerk = UserFactory(is_staff=True)
    entry = ledger_post(
        lines=[Line(system(Purpose.ADJUSTMENTS), usd("2.00")), Line(wallet, usd("-2.00"))],
        idempotency_key=key(),
        kind=Kind.ADJUSTMENT,
        memo="goodwill",
        created_by=clerk,
    )
    stored = JournalEntry.objects.get(pk=entry.pk)
    assert (stored.created_by, stored.memo, stored.kind) == (clerk, "goodwill", Kind.ADJUSTMENT)
    assert stored.created_at == entry.created_at


def test_system_accounts_exist_for_every_configured_currency(settings):
    for currency in settings.SIMDESK_CURRENCIES:
        account = LedgerAccount.objects.get(purpose=Purpose.SALES_REVENUE, currency=currency)
        assert account.code == f"4000-{currency}" and account.type == LedgerAccount.Type.REVENUE


def test_a_new_currency_gets_its_system_account_on_first_use():
    account = system(Purpose.GATEWAY_CLEARING, "SGD")
    assert (account.code, account.type, account.owner_id) == ("1100-SGD", "asset", None)
    assert system(Purpose.GATEWAY_CLEARING, "SGD").pk == account.pk


def test_one_wallet_per_customer_and_currency(customer):
    first = wallet_get(user=customer, currency="CNY")
    assert wallet_get(user=customer, currency="CNY").pk == first.pk
    assert (first.type, first.purpose, first.balance) == ("liability", "customer_wallet", 0)
    assert first.code == f"2100-CNY-{customer.pk}"
