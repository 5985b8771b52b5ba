"""The finance reports in the staff console: pages, CSV exports, bad input, permissions and
query counts. The journal exported through the admin and summed again is the trial balance."""

import csv
import datetime as dt
import io
from collections import defaultdict
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from billing.selectors.reports import books_at
from tests.billing.report_support import build_books, finance_staff, more_books

pytestmark = pytest.mark.django_db

D = Decimal
REPORTS = "view_financial_reports"
REPORT_NAMES = [
    "admin:billing_reports",
    "admin:billing_report_trial_balance",
    "admin:billing_report_balance_sheet",
    "admin:billing_report_income",
    "admin:billing_report_journal",
    "admin:billing_report_wallets",
]


def csv_rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="')
    body = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.DictReader(io.StringIO(body)))


def grouped(code: str) -> str:
    """A wallet's code 2100-USD-<id> as the trial balance groups it: 2100-USD."""
    return "-".join(code.split("-")[:2])


@pytest.fixture
def books():
    return build_books()


@pytest.fixture
def finance(client):
    user = finance_staff(REPORTS, "view_ledgeraccount")
    client.force_login(user)
    return user


# --- The journal is the trial balance --------------------------------------------------------
def test_the_exported_journal_summed_again_is_the_trial_balance(client, finance, books):
    today = timezone.localdate()
    response = client.get(
        reverse("admin:billing_report_journal"),
        {"date_from": books.days[0].isoformat(), "date_to": today.isoformat(), "format": "csv"},
    )
    rows = csv_rows(response)
    assert list(rows[0]) == [
        "date", "entry", "account code", "account name", "debit", "credit", "currency", "memo",
    ]  # fmt: skip
    assert len(rows) == 20
    sums: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    totals: dict[str, list[Decimal]] = defaultdict(lambda: [D(0), D(0)])
    for row in rows:
        assert bool(row["debit"]) != bool(row["credit"]), row  # one side per posting
        debit, credit = D(row["debit"] or 0), D(row["credit"] or 0)
        assert debit >= 0 and credit >= 0
        sums[row["currency"]][grouped(row["account code"])] += debit - credit
        totals[row["currency"]][0] += debit
        totals[row["currency"]][1] += credit
    # Wallets keep their own codes in the journal.
    assert {r["account code"] for r in rows} >= {
        f"2100-USD-{books.alice.pk}",
        f"2100-CNY-{books.bob.pk}",
    }
    expected = {
        book.currency: {row.account.code: row.debit - row.credit for row in book.rows}
        for book in books_at(today)
    }
    assert {c: dict(accounts) for c, accounts in sums.items()} == expected
    assert expected["USD"]["2100-USD"] == D("-115.00")  # the figures are real, not empty
    for currency, (debit, credit) in totals.items():
        assert debit == credit, currency
    assert totals["USD"] == [D("191.40"), D("191.40")]


def test_the_journal_is_in_date_entry_and_posting_order_with_plain_amounts(client, finance, books):
    response = client.get(
        reverse("admin:billing_report_journal"),
        {"date_from": books.days[1].isoformat(), "date_to": books.days[2].isoformat(),
         "format": "csv"},
    )  # fmt: skip
    rows = csv_rows(response)
    assert {row["date"] for row in rows} == {books.days[1].isoformat(), books.days[2].isoformat()}
    keys = [(row["date"], int(row["entry"])) for row in rows]
    assert keys == sorted(keys)
    refund = [row for row in rows if row["account code"] == "4100-USD"]
    assert [(r["debit"], r["credit"], r["memo"] != "") for r in refund] == [("30.00", "", True)]
    assert response["Content-Disposition"] == (
        f'attachment; filename="journal-{books.days[1]}-{books.days[2]}.csv"'
    )


# --- The pages ---------------------------------------------------------------------------------
def test_each_report_page_shows_its_figures(client, finance, books):
    day2 = books.days[1].isoformat()
    page = client.get(reverse("admin:billing_report_trial_balance"), {"day": day2})
    assert page.status_code == 200
    assert "70.00 USD" in page.text and "balances" in page.text  # the wallets at day 2
    assert "115.00 USD" not in page.text

    page = client.get(reverse("admin:billing_report_balance_sheet"))
    assert page.status_code == 200
    assert "113.60 USD" in page.text and "-1.40 USD" in page.text

    page = client.get(reverse("admin:billing_report_income"), {"date_from": day2, "date_to": day2})
    assert page.status_code == 200
    # Day 2: the sale (30.00) less its cost (6.40); the refund came on day 3.
    assert '<td class="money" id="net-income-USD">23.60 USD</td>' in page.text

    page = client.get(reverse("admin:billing_report_journal"))
    assert page.status_code == 200
    assert "Download CSV" in page.text

    page = client.get(reverse("admin:billing_report_wallets"))
    assert page.status_code == 200
    assert "422.00 CNY" in page.text and "equal" in page.text and "DIFFERENT" not in page.text

    index = client.get(reverse("admin:billing_reports"))
    for name in REPORT_NAMES[1:]:
        assert reverse(name) in index.text


def test_the_report_csvs(client, finance, books):
    day1 = books.days[0].isoformat()
    rows = csv_rows(
        client.get(reverse("admin:billing_report_trial_balance"), {"day": day1, "format": "csv"})
    )
    assert [(r["currency"], r["account code"], r["debit"], r["credit"]) for r in rows] == [
        ("CNY", "1000-CNY", "500.00", "0.00"),
        ("CNY", "2100-CNY", "0.00", "500.00"),
        ("CNY", "", "500.00", "500.00"),
        ("USD", "1000-USD", "100.00", "0.00"),
        ("USD", "2100-USD", "0.00", "100.00"),
        ("USD", "", "100.00", "100.00"),
    ]
    rows = csv_rows(client.get(reverse("admin:billing_report_balance_sheet"), {"format": "csv"}))
    usd_totals = [r["amount"] for r in rows if r["currency"] == "USD" and r["section"] == "total"]
    assert usd_totals == ["113.60", "113.60"]
    rows = csv_rows(
        client.get(
            reverse("admin:billing_report_income"),
            {"date_from": day1, "date_to": timezone.localdate().isoformat(), "format": "csv"},
        )
    )
    net = {r["currency"]: r["amount"] for r in rows if r["account name"] == "Net income"}
    assert net == {"CNY": "78.00", "USD": "-1.40"}
    rows = csv_rows(client.get(reverse("admin:billing_report_wallets"), {"format": "csv"}))
    assert [tuple(r.values()) for r in rows] == [
        ("CNY", "422.00", "422.00", "1", "equal"),
        ("USD", "115.00", "115.00", "1", "equal"),
    ]


@pytest.mark.ledger_unverified
def test_a_corrupted_wallet_shows_different_on_the_page_and_in_the_csv(client, finance, books):
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE billing_ledgeraccount SET balance = balance + 2 WHERE id = %s",
            [books.bob_wallet.pk],
        )
    page = client.get(reverse("admin:billing_report_wallets"))
    assert "DIFFERENT by 2.00 CNY" in page.text
    rows = csv_rows(client.get(reverse("admin:billing_report_wallets"), {"format": "csv"}))
    assert [(r["currency"], r["sum of wallets"], r["status"]) for r in rows] == [
        ("CNY", "424.00", "DIFFERENT"),
        ("USD", "115.00", "equal"),
    ]


# --- Statements ------------------------------------------------------------------------------
def statement_url(account) -> str:
    return reverse("admin:billing_ledgeraccount_statement", args=[account.pk])


def test_the_statement_csv_of_a_period_opens_and_runs_to_its_closing(client, finance, books):
    wallet = books.alice_wallet
    period = {"date_from": books.days[1].isoformat(), "date_to": books.days[3].isoformat()}
    rows = csv_rows(client.get(statement_url(wallet), {**period, "format": "csv"}))
    assert list(rows[0]) == ["date", "entry", "kind", "memo", "debit", "credit", "balance"]
    assert [(r["memo"], r["balance"]) for r in rows[:1]] == [("Opening balance", "100.00")]
    assert [(r["kind"], r["debit"], r["credit"], r["balance"]) for r in rows[1:]] == [
        ("Purchase", "30.00", "", "70.00"),
        ("Refund", "", "30.00", "100.00"),
        ("Adjustment", "5.00", "", "95.00"),
    ]
    page = client.get(statement_url(wallet), period)
    assert page.status_code == 200
    assert "Opening balance: 100.00 USD. Closing balance: 95.00 USD." in page.text


def test_the_whole_statement_csv_ends_at_the_accounts_balance(client, finance, books):
    wallet = books.alice_wallet
    rows = csv_rows(client.get(statement_url(wallet), {"format": "csv"}))
    assert rows[0]["balance"] == "0.00"
    assert rows[-1]["balance"] == str(wallet.balance) == "115.00"
    assert len(rows) == 1 + wallet.postings.count()


def test_the_statement_refuses_half_or_reversed_periods_with_a_message(client, finance, books):
    wallet = books.alice_wallet
    day1, day2 = books.days[0].isoformat(), books.days[1].isoformat()
    for query, message in (
        ({"date_from": day2, "date_to": day1}, "The first day must not be after the last day."),
        ({"date_from": day1, "date_to": ""}, "Give both the first and the last day, or neither."),
        ({"date_from": "2024-13-45", "date_to": day1}, "Enter a valid date."),
    ):
        for extra in ({}, {"format": "csv"}):
            page = client.get(statement_url(wallet), {**query, **extra})
            assert page.status_code == 200
            assert page["Content-Type"].startswith("text/html")
            assert message in page.text


# --- Bad input -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "query", "message"),
    [
        ("admin:billing_report_trial_balance", {"day": "yesterday"}, "Enter a valid date."),
        ("admin:billing_report_balance_sheet", {"day": ""}, "This field is required."),
        ("admin:billing_report_income", {"date_from": "2026-02-30", "date_to": "2026-03-01"},
         "Enter a valid date."),
        ("admin:billing_report_journal", {"date_from": "2025-05-02", "date_to": "2025-05-01"},
         "The first day must not be after the last day."),
    ],
)  # fmt: skip
def test_bad_input_is_a_message_not_an_error(client, finance, name, query, message):
    for extra in ({}, {"format": "csv"}):
        page = client.get(reverse(name), {**query, **extra})
        assert page.status_code == 200
        assert page["Content-Type"].startswith("text/html")
        assert message in page.text
        assert "Download CSV" not in page.text


def test_a_day_after_today_is_refused(client, finance):
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    page = client.get(reverse("admin:billing_report_trial_balance"), {"day": tomorrow})
    assert "This day has not come yet" in page.text
    page = client.get(
        reverse("admin:billing_report_journal"),
        {"date_from": timezone.localdate().isoformat(), "date_to": tomorrow},
    )
    assert "This day has not come yet" in page.text


def test_the_reports_index_asked_for_csv_shows_itself(client, finance):
    page = client.get(reverse("admin:billing_reports"), {"format": "csv"})
    assert page.status_code == 200
    assert page["Content-Type"].startswith("text/html")
    assert reverse("admin:billing_report_journal") in page.text


# --- Permissions -----------------------------------------------------------------------------
def test_staff_without_the_permission_are_refused_every_report_and_csv(client, books):
    client.force_login(finance_staff("view_ledgeraccount", "view_journalentry"))
    for name in REPORT_NAMES:
        assert client.get(reverse(name)).status_code == 403, name
        assert client.get(reverse(name), {"format": "csv"}).status_code == 403, name
    changelist = client.get(reverse("admin:billing_ledgeraccount_changelist"))
    assert reverse("admin:billing_reports") not in changelist.text
    # The statement keeps its own rule: viewing ledger accounts.
    assert client.get(statement_url(books.alice_wallet), {"format": "csv"}).status_code == 200


def test_the_statement_csv_needs_the_ledger_view_permission(client, books):
    client.force_login(finance_staff(REPORTS))
    assert client.get(statement_url(books.alice_wallet)).status_code == 403
    assert client.get(statement_url(books.alice_wallet), {"format": "csv"}).status_code == 403


def test_the_accounts_list_links_the_reports_for_those_allowed(client, finance):
    changelist = client.get(reverse("admin:billing_ledgeraccount_changelist"))
    assert reverse("admin:billing_reports") in changelist.text


# --- Query counts ----------------------------------------------------------------------------
def report_queries(client, books) -> dict[str, int]:
    day1, today = books.days[0].isoformat(), timezone.localdate().isoformat()
    requests = {
        "admin:billing_report_trial_balance": {"day": today},
        "admin:billing_report_balance_sheet": {"day": today},
        "admin:billing_report_income": {"date_from": day1, "date_to": today},
        "admin:billing_report_journal": {"date_from": day1, "date_to": today},
        "admin:billing_report_wallets": {},
    }
    counts = {}
    for name, query in requests.items():
        for extra in ({}, {"format": "csv"}):
            with CaptureQueriesContext(connection) as queries:
                response = client.get(reverse(name), {**query, **extra})
                if extra:
                    b"".join(response.streaming_content)
            counts[f"{name} {extra}"] = len(queries)
    period = {"date_from": day1, "date_to": today}
    for extra in ({}, {"format": "csv"}):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(statement_url(books.alice_wallet), {**period, **extra})
            if extra:
                b"".join(response.streaming_content)
        counts[f"statement {extra}"] = len(queries)
    return counts


def test_report_queries_do_not_grow_with_accounts_or_entries(client, finance, books):
    small = report_queries(client, books)
    more_books(12)  # 12 more wallets, 36 more entries
    assert report_queries(client, books) == small
    assert max(small.values()) <= 12
