"""Finance reports read from a ledger written by the real services over several days."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from billing.selectors.reports import (
    account_statement_period,
    balance_sheet,
    books_at,
    day_end,
    day_start,
    income_summary,
    journal_count,
    statement_lines,
    wallet_liabilities,
)
from tests.billing.conftest import fund
from tests.billing.report_support import build_books, on_day

pytestmark = pytest.mark.django_db

D = Decimal


def figures(day: dt.date) -> dict[str, dict[str, tuple[Decimal, Decimal]]]:
    """The trial balance at the end of `day` as {currency: {code: (debit, credit)}}."""
    return {
        book.currency: {row.account.code: (row.debit, row.credit) for row in book.rows}
        for book in books_at(day)
    }


@pytest.fixture
def books():
    return build_books()


def test_the_trial_balance_at_a_past_day_leaves_out_later_entries(books):
    day1, day2, *_ = books.days
    assert figures(day1) == {
        "CNY": {"1000-CNY": (D("500.00"), 0), "2100-CNY": (0, D("500.00"))},
        "USD": {"1000-USD": (D("100.00"), 0), "2100-USD": (0, D("100.00"))},
    }
    assert figures(day2)["USD"] == {
        "1000-USD": (D("100.00"), 0),
        "1200-USD": (0, D("6.40")),
        "2100-USD": (0, D("70.00")),
        "4000-USD": (0, D("30.00")),
        "5000-USD": (D("6.40"), 0),
    }
    # The day before anything was posted has no books at all.
    assert books_at(day1 - dt.timedelta(days=1)) == []


def test_the_trial_balance_today_has_everything_and_balances(books):
    today = figures(timezone.localdate())
    assert today["USD"]["2100-USD"] == (0, D("115.00"))
    assert today["USD"]["1000-USD"] == (D("120.00"), 0)
    assert today["CNY"]["2100-CNY"] == (0, D("422.00"))
    assert all(book.balanced for book in books_at(timezone.localdate()))


def test_a_day_is_the_whole_day_in_the_shops_time_zone(books):
    # 01:00 in Shanghai on day 4 is 17:00 UTC the day before: in day 4's books there.
    day = books.days[3]
    with timezone.override("Asia/Shanghai"):
        assert day_end(day) - day_start(day) == dt.timedelta(days=1)
        with on_day(day, hour=1):
            fund(books.alice_wallet, "1.00")
        assert figures(day)["USD"]["1000-USD"] == (D("101.00"), 0)
        assert figures(day - dt.timedelta(days=1))["USD"]["1000-USD"] == (D("100.00"), 0)


def test_the_balance_sheet_balances_every_day_with_the_earnings_to_date(books):
    for day in [*books.days, timezone.localdate()]:
        for sheet in balance_sheet(day=day):
            assert sheet.balanced, (day, sheet)
    usd = {sheet.currency: sheet for sheet in balance_sheet(day=timezone.localdate())}["USD"]
    assert usd.total_assets == D("113.60")  # cash 120 less inventory 6.40
    assert [(line.code, line.amount) for line in usd.liabilities] == [("2100-USD", D("115.00"))]
    assert usd.earnings == D("-1.40")  # revenue 30 - refunds 30 - (cost 6.40 - adjustment 5)
    assert usd.total_liabilities_and_equity == D("113.60")


def test_the_income_summary_of_a_period_nets_refunds_and_expenses(books):
    _day1, day2, day3, _day4 = books.days
    summaries = {s.currency: s for s in income_summary(date_from=day2, date_to=day3)}
    usd = summaries["USD"]
    assert [(line.code, line.amount) for line in usd.revenue] == [("4000-USD", D("30.00"))]
    assert [(line.code, line.amount) for line in usd.refunds] == [("4100-USD", D("30.00"))]
    assert [(line.code, line.amount) for line in usd.expenses] == [("5000-USD", D("6.40"))]
    assert usd.net_income == usd.total_revenue - usd.total_refunds - usd.total_expenses
    assert usd.net_income == D("-6.40")
    assert summaries["CNY"].net_income == D("88.00")
    # Day 4's adjustment is outside the period; the whole history includes it.
    whole = {s.currency: s for s in income_summary(date_from=books.days[0], date_to=day3)}
    assert whole["USD"].net_income == D("-6.40")
    everything = income_summary(date_from=books.days[0], date_to=timezone.localdate())
    assert {s.currency: s.net_income for s in everything} == {
        "CNY": D("78.00"),
        "USD": D("-1.40"),
    }


def test_the_net_income_to_date_is_the_balance_sheets_earnings(books):
    today = timezone.localdate()
    earnings = {sheet.currency: sheet.earnings for sheet in balance_sheet(day=today)}
    income = income_summary(date_from=books.days[0], date_to=today)
    assert {summary.currency: summary.net_income for summary in income} == earnings


def test_a_statement_over_a_period_opens_and_runs_from_the_balance_before_it(books):
    wallet = books.alice_wallet
    start, end = day_start(books.days[1]), day_end(books.days[3])
    opening, lines = statement_lines(account=wallet, start=start, end=end)
    assert opening == D("100.00")
    assert [(line.entry.kind, line.debit, line.credit, line.balance) for line in lines] == [
        ("purchase", D("30.00"), None, D("70.00")),
        ("refund", None, D("30.00"), D("100.00")),
        ("adjustment", D("5.00"), None, D("95.00")),
    ]
    page = account_statement_period(account=wallet, start=start, end=end, page=1, per_page=2)
    assert (page.opening, page.closing) == (D("100.00"), D("95.00"))
    assert [line.balance for line in page.lines] == [D("95.00"), D("100.00")]  # newest first
    page2 = account_statement_period(account=wallet, start=start, end=end, page=2, per_page=2)
    assert [line.balance for line in page2.lines] == [D("70.00")]


def test_the_whole_statement_ends_at_the_cached_balance(books):
    for account in (books.alice_wallet, books.bob_wallet):
        opening, lines = statement_lines(account=account, start=None, end=None)
        assert opening == 0
        assert list(lines)[-1].balance == account.balance


def test_the_journal_counts_a_periods_entries_and_postings(books):
    assert journal_count(date_from=books.days[1], date_to=books.days[1]) == (4, 8)
    assert journal_count(date_from=books.days[0], date_to=timezone.localdate()) == (10, 20)


def test_wallet_liabilities_equal_the_wallets(books):
    assert [
        (w.currency, w.ledger_total, w.wallets_total, w.wallets, w.equal)
        for w in wallet_liabilities()
    ] == [
        ("CNY", D("422.00"), D("422.00"), 1, True),
        ("USD", D("115.00"), D("115.00"), 1, True),
    ]


@pytest.mark.ledger_unverified
def test_a_corrupted_wallet_balance_shows_as_different(books):
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE billing_ledgeraccount SET balance = balance + 1 WHERE id = %s",
            [books.alice_wallet.pk],
        )
    usd = {w.currency: w for w in wallet_liabilities()}["USD"]
    assert (usd.ledger_total, usd.wallets_total, usd.equal) == (D("115.00"), D("116.00"), False)
    assert usd.difference == D("1.00")
