"""Finance reports read from the ledger: the books at the end of a day, the balance sheet, the
income summary of a period, the journal of a period, statements over a period, and what we owe
customers by the ledger beside what their wallets hold.

A date means that whole day in the shop's time zone: "at the end of 3 May" is every entry made
before midnight starting 4 May there. Every report costs a fixed number of queries, whatever
the number of accounts or entries (the journal and statements are read in chunks).
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.paginator import Page, Paginator
from django.db.models import Count, F, QuerySet, Sum, Window
from django.utils import timezone

from billing.models import JournalEntry, LedgerAccount, Posting
from billing.selectors.ledger import TrialBalance, trial_balance

ZERO = Decimal(0)
CHUNK_SIZE = 2000

Type = LedgerAccount.Type
Purpose = LedgerAccount.Purpose


# --- Days in the shop's time zone ------------------------------------------------------------
def day_start(day: dt.date) -> dt.datetime:
    """Midnight starting `day` in the shop's time zone, as an aware datetime."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def day_end(day: dt.date) -> dt.datetime:
    """Midnight ending `day` (exclusive): the start of the next day in the shop's time zone."""
    return day_start(day + dt.timedelta(days=1))


def books_at(day: dt.date) -> list[TrialBalance]:
    """The trial balance per currency as at the end of `day`."""
    return trial_balance(before=day_end(day))


# --- Balance sheet ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ReportLine:
    code: str
    name: str  # English, as the chart names it (CSV)
    amount: Decimal  # on the account's normal side (a contra account shows a negative amount)
    label: str = ""  # what the account is for, in the reader's language (pages)

    @classmethod
    def of(cls, account: LedgerAccount, amount: Decimal) -> "ReportLine":
        return cls(account.code, account.name, amount, account.get_purpose_display())


@dataclass
class BalanceSheet:
    currency: str
    assets: list[ReportLine] = field(default_factory=list)
    liabilities: list[ReportLine] = field(default_factory=list)
    equity: list[ReportLine] = field(default_factory=list)
    earnings: Decimal = ZERO  # revenue less expenses to date, not yet closed into equity

    @property
    def total_assets(self) -> Decimal:
        return sum((line.amount for line in self.assets), ZERO)

    @property
    def total_liabilities(self) -> Decimal:
        return sum((line.amount for line in self.liabilities), ZERO)

    @property
    def total_equity(self) -> Decimal:
        return sum((line.amount for line in self.equity), ZERO)

    @property
    def total_liabilities_and_equity(self) -> Decimal:
        return self.total_liabilities + self.total_equity + self.earnings

    @property
    def balanced(self) -> bool:
        return self.total_assets == self.total_liabilities_and_equity


def balance_sheet(*, day: dt.date) -> list[BalanceSheet]:
    """Assets, liabilities (customer wallets summed) and equity per currency at the end of
    `day`, with the earnings to date that make assets = liabilities + equity + earnings."""
    sheets = []
    for book in books_at(day):
        sheet = BalanceSheet(book.currency)
        for row in book.rows:
            account = row.account
            net_debit = row.debit - row.credit
            line = ReportLine.of(account, account.normal_sign * net_debit)
            if account.type == Type.ASSET:
                sheet.assets.append(line)
            elif account.type == Type.LIABILITY:
                sheet.liabilities.append(line)
            elif account.type == Type.EQUITY:
                sheet.equity.append(line)
            else:  # revenue (credit) less expenses (debit)
                sheet.earnings -= net_debit
        sheets.append(sheet)
    return sheets


# --- Income summary --------------------------------------------------------------------------
@dataclass
class IncomeSummary:
    currency: str
    revenue: list[ReportLine] = field(default_factory=list)
    refunds: list[ReportLine] = field(default_factory=list)  # contra revenue, shown positive
    expenses: list[ReportLine] = field(default_factory=list)

    @property
    def total_revenue(self) -> Decimal:
        return sum((line.amount for line in self.revenue), ZERO)

    @property
    def total_refunds(self) -> Decimal:
        return sum((line.amount for line in self.refunds), ZERO)

    @property
    def net_revenue(self) -> Decimal:
        return self.total_revenue - self.total_refunds

    @property
    def total_expenses(self) -> Decimal:
        return sum((line.amount for line in self.expenses), ZERO)

    @property
    def net_income(self) -> Decimal:
        return self.net_revenue - self.total_expenses


def income_summary(*, date_from: dt.date, date_to: dt.date) -> list[IncomeSummary]:
    """Revenue, sales refunds (contra revenue), expenses and net income per currency, from the
    entries made from the start of `date_from` to the end of `date_to`."""
    sums = (
        Posting.objects.filter(
            entry__created_at__gte=day_start(date_from),
            entry__created_at__lt=day_end(date_to),
            account__type__in=(Type.REVENUE, Type.EXPENSE),
        )
        .values("account_id")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    by_account = {row["account_id"]: row["total"] for row in sums}
    summaries: dict[str, IncomeSummary] = {}
    for account in LedgerAccount.objects.filter(pk__in=by_account).order_by("code"):
        summary = summaries.setdefault(account.currency, IncomeSummary(account.currency))
        total = by_account[account.pk]  # debits positive
        if account.purpose == Purpose.SALES_REFUNDS:
            summary.refunds.append(ReportLine.of(account, total))
        elif account.type == Type.REVENUE:
            summary.revenue.append(ReportLine.of(account, -total))
        else:
            summary.expenses.append(ReportLine.of(account, total))
    return [summaries[currency] for currency in sorted(summaries)]


# --- Journal ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class JournalRow:
    created_at: dt.datetime
    entry_id: int
    kind: str
    memo: str
    account_code: str
    account_name: str
    amount: Decimal  # debits positive, credits negative
    currency: str


def journal_count(*, date_from: dt.date, date_to: dt.date) -> tuple[int, int]:
    """How many entries and postings the journal of the period holds."""
    counts = _journal_postings(date_from, date_to).aggregate(
        entries=Count("entry_id", distinct=True), postings=Count("id")
    )
    return counts["entries"], counts["postings"]


def journal_rows(*, date_from: dt.date, date_to: dt.date) -> Iterator[JournalRow]:
    """Every posting of the entries made in the period, by entry date, entry and posting; read
    from the database in chunks, so memory stays flat however long the period."""
    rows = (
        _journal_postings(date_from, date_to)
        .order_by("entry__created_at", "entry_id", "id")
        .values_list(
            "entry__created_at",
            "entry_id",
            "entry__kind",
            "entry__memo",
            "account__code",
            "account__name",
            "amount",
            "currency",
        )
    )
    for row in rows.iterator(chunk_size=CHUNK_SIZE):
        yield JournalRow(*row)


def _journal_postings(date_from: dt.date, date_to: dt.date) -> QuerySet[Posting]:
    return Posting.objects.filter(
        entry__created_at__gte=day_start(date_from), entry__created_at__lt=day_end(date_to)
    )


# --- Statements over a period ----------------------------------------------------------------
@dataclass(frozen=True)
class PeriodLine:
    entry: JournalEntry
    debit: Decimal | None
    credit: Decimal | None
    balance: Decimal  # the account's balance after this posting, on its normal side


def opening_balance(*, account: LedgerAccount, before: dt.datetime | None) -> Decimal:
    """The account's balance, on its normal side, from the entries made before `before`."""
    if before is None:
        return ZERO
    total = Posting.objects.filter(account=account, entry__created_at__lt=before).aggregate(
        total=Sum("amount")
    )["total"]
    return account.normal_sign * (total or ZERO)


def statement_lines(
    *, account: LedgerAccount, start: dt.datetime | None, end: dt.datetime | None
) -> tuple[Decimal, Iterator[PeriodLine]]:
    """The opening balance at `start` and the account's postings from `start` to `end`
    (exclusive), oldest first, each with the balance it left; read in chunks."""
    opening = opening_balance(account=account, before=start)
    postings = Posting.objects.filter(account=account)
    if start is not None:
        postings = postings.filter(entry__created_at__gte=start)
    if end is not None:
        postings = postings.filter(entry__created_at__lt=end)
    postings = postings.select_related("entry").order_by("entry__created_at", "entry_id", "id")

    def lines() -> Iterator[PeriodLine]:
        balance = opening
        for posting in postings.iterator(chunk_size=CHUNK_SIZE):
            balance += account.normal_sign * posting.amount
            yield PeriodLine(posting.entry, posting.debit, posting.credit, balance)

    return opening, lines()


# --- Wallet liabilities ----------------------------------------------------------------------
@dataclass(frozen=True)
class WalletLiability:
    currency: str
    ledger_total: Decimal  # what the postings to customer wallets say we owe
    wallets_total: Decimal  # the sum of the wallets' cached balances
    wallets: int

    @property
    def equal(self) -> bool:
        return self.ledger_total == self.wallets_total

    @property
    def difference(self) -> Decimal:
        return self.wallets_total - self.ledger_total


def wallet_liabilities() -> list[WalletLiability]:
    """Per currency, what we owe customers by the ledger beside the sum of their wallets."""
    owed: dict[str, Decimal] = defaultdict(Decimal)
    for row in (
        Posting.objects.filter(account__owner__isnull=False)
        .values("currency")
        .annotate(total=Sum("amount"))
        .order_by()
    ):
        owed[row["currency"]] = -row["total"]  # a liability rises with credits
    cached: dict[str, tuple[Decimal, int]] = {}
    for row in (
        LedgerAccount.objects.filter(owner__isnull=False)
        .values("currency")
        .annotate(total=Sum("balance"), count=Count("id"))
        .order_by()
    ):
        cached[row["currency"]] = (row["total"], row["count"])
    return [
        WalletLiability(
            currency,
            owed.get(currency, ZERO),
            cached.get(currency, (ZERO, 0))[0],
            cached.get(currency, (ZERO, 0))[1],
        )
        for currency in sorted(owed.keys() | cached.keys())
    ]


# --- A statement page over a period ----------------------------------------------------------
@dataclass(frozen=True)
class PeriodStatement:
    opening: Decimal
    closing: Decimal
    page: Page
    lines: list[PeriodLine]


def account_statement_period(
    *, account: LedgerAccount, start: dt.datetime, end: dt.datetime, page: int, per_page: int
) -> PeriodStatement:
    """One page of the account's postings from `start` to `end` (exclusive), newest first,
    each with the balance it left: the opening balance plus the running sum of the period's
    postings, which PostgreSQL computes over the period in one window."""
    sign = account.normal_sign
    opening = opening_balance(account=account, before=start)
    in_period = Posting.objects.filter(
        account=account, entry__created_at__gte=start, entry__created_at__lt=end
    )
    moved = in_period.aggregate(total=Sum("amount"))["total"] or ZERO
    order = ("entry__created_at", "entry_id", "id")
    postings = (
        in_period.select_related("entry")
        .annotate(running=Window(Sum("amount"), order_by=[F(name).asc() for name in order]))
        .order_by(*(f"-{name}" for name in order))
    )
    page_obj = Paginator(postings, per_page).get_page(page)
    lines = [
        PeriodLine(
            posting.entry,
            posting.debit,
            posting.credit,
            opening + sign * posting.running,  # type: ignore[attr-defined]
        )
        for posting in page_obj.object_list
    ]
    return PeriodStatement(opening, opening + sign * moved, page_obj, lines)
