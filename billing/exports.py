"""The finance reports as CSV: plain UTF-8, a header row, one row per record, amounts as plain
decimals with the currency's places (no grouping, no currency sign), streamed row by row so a
long journal keeps memory flat.
"""

import csv
import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone

from billing.models import LedgerAccount
from billing.money import UnsupportedCurrency, quantum
from billing.selectors.ledger import TrialBalance
from billing.selectors.reports import (
    BalanceSheet,
    IncomeSummary,
    JournalRow,
    WalletLiability,
    journal_rows,
    statement_lines,
)

JOURNAL_HEADER = (
    "date",
    "entry",
    "account code",
    "account name",
    "debit",
    "credit",
    "currency",
    "memo",
)
STATEMENT_HEADER = ("date", "entry", "kind", "memo", "debit", "credit", "balance")
TRIAL_BALANCE_HEADER = ("currency", "account code", "account name", "debit", "credit")
STATEMENT_SECTION_HEADER = ("currency", "section", "account code", "account name", "amount")
WALLETS_HEADER = ("currency", "owed by the ledger", "sum of wallets", "wallets", "status")


class _Echo:
    """A file that hands back what is written to it, for csv.writer in a generator."""

    def write(self, value: str) -> str:
        return value


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Any:
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def plain(amount: Decimal | None, currency: str) -> str:
    """10.5, "USD" -> "10.50"; None -> "" (the other side of a posting)."""
    if amount is None:
        return ""
    try:
        return str(amount.quantize(quantum(currency)))
    except UnsupportedCurrency:
        return str(amount)


def local_date(moment: dt.datetime) -> str:
    return timezone.localtime(moment).date().isoformat()


def local_time(moment: dt.datetime) -> str:
    return timezone.localtime(moment).isoformat(timespec="seconds")


# --- Rows ------------------------------------------------------------------------------------
def journal_csv_row(row: JournalRow) -> tuple[str, ...]:
    debit = row.amount if row.amount > 0 else None
    credit = -row.amount if row.amount < 0 else None
    return (
        local_date(row.created_at),
        str(row.entry_id),
        row.account_code,
        row.account_name,
        plain(debit, row.currency),
        plain(credit, row.currency),
        row.currency,
        row.memo,
    )


def journal_csv(*, date_from: dt.date, date_to: dt.date) -> Any:
    rows = journal_rows(date_from=date_from, date_to=date_to)
    return csv_response(
        f"journal-{date_from}-{date_to}.csv", JOURNAL_HEADER, map(journal_csv_row, rows)
    )


def statement_csv(
    *,
    account: LedgerAccount,
    start: dt.datetime | None,
    end: dt.datetime | None,
    filename: str,
) -> Any:
    """The account's postings oldest first, after an opening-balance row at the period's start."""
    currency = account.currency
    opening, lines = statement_lines(account=account, start=start, end=end)

    def rows() -> Iterator[tuple[str, ...]]:
        opened = local_time(start) if start is not None else ""
        yield (opened, "", "", "Opening balance", "", "", plain(opening, currency))
        for line in lines:
            yield (
                local_time(line.entry.created_at),
                str(line.entry.pk),
                str(line.entry.get_kind_display()),
                line.entry.memo,
                plain(line.debit, currency),
                plain(line.credit, currency),
                plain(line.balance, currency),
            )

    return csv_response(filename, STATEMENT_HEADER, rows())


def trial_balance_csv(books: list[TrialBalance], day: dt.date) -> Any:
    def rows() -> Iterator[tuple[str, ...]]:
        for book in books:
            currency = book.currency
            for row in book.rows:
                yield (
                    currency,
                    row.account.code,
                    row.account.name,
                    plain(row.debit, currency),
                    plain(row.credit, currency),
                )
            yield (
                currency,
                "",
                "Total",
                plain(book.total_debit, currency),
                plain(book.total_credit, currency),
            )

    return csv_response(f"trial-balance-{day}.csv", TRIAL_BALANCE_HEADER, rows())


def balance_sheet_csv(sheets: list[BalanceSheet], day: dt.date) -> Any:
    def rows() -> Iterator[tuple[str, ...]]:
        for sheet in sheets:
            c = sheet.currency
            for section, lines in (
                ("assets", sheet.assets),
                ("liabilities", sheet.liabilities),
                ("equity", sheet.equity),
            ):
                for line in lines:
                    yield (c, section, line.code, line.name, plain(line.amount, c))
            yield (c, "equity", "", "Current earnings", plain(sheet.earnings, c))
            yield (c, "total", "", "Total assets", plain(sheet.total_assets, c))
            yield (
                c,
                "total",
                "",
                "Total liabilities and equity",
                plain(sheet.total_liabilities_and_equity, c),
            )

    return csv_response(f"balance-sheet-{day}.csv", STATEMENT_SECTION_HEADER, rows())


def income_csv(summaries: list[IncomeSummary], date_from: dt.date, date_to: dt.date) -> Any:
    def rows() -> Iterator[tuple[str, ...]]:
        for summary in summaries:
            c = summary.currency
            for section, lines in (
                ("revenue", summary.revenue),
                ("sales refunds", summary.refunds),
                ("expenses", summary.expenses),
            ):
                for line in lines:
                    yield (c, section, line.code, line.name, plain(line.amount, c))
            yield (c, "total", "", "Net revenue", plain(summary.net_revenue, c))
            yield (c, "total", "", "Total expenses", plain(summary.total_expenses, c))
            yield (c, "total", "", "Net income", plain(summary.net_income, c))

    filename = f"income-{date_from}-{date_to}.csv"
    return csv_response(filename, STATEMENT_SECTION_HEADER, rows())


def wallets_csv(liabilities: list[WalletLiability]) -> Any:
    rows = (
        (
            item.currency,
            plain(item.ledger_total, item.currency),
            plain(item.wallets_total, item.currency),
            str(item.wallets),
            "equal" if item.equal else "DIFFERENT",
        )
        for item in liabilities
    )
    return csv_response(f"wallet-liabilities-{timezone.localdate()}.csv", WALLETS_HEADER, rows)
