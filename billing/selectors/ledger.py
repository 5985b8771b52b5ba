"""Reading the ledger: wallet balances, account statements, the trial balance, its invariants."""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from django.core.paginator import Page, Paginator
from django.db import connection, transaction
from django.db.models import Case, Count, DecimalField, F, Q, QuerySet, Sum, When
from django.db.models.functions import Coalesce
from djmoney.money import Money

from billing.chart import CHART
from billing.models import JournalEntry, LedgerAccount, Posting
from billing.models.ledger import DEBIT_NORMAL_TYPES

if TYPE_CHECKING:
    from accounts.models import User

ZERO = Decimal(0)


# --- Wallets ---------------------------------------------------------------------------------
def wallet_balances(*, user: "User") -> QuerySet[LedgerAccount]:
    """The customer's wallets, one per currency they have used."""
    return LedgerAccount.objects.filter(owner=user).order_by("currency")


def wallet_balance(*, user: "User", currency: str) -> Money:
    """What the customer's wallet holds in `currency`: the cached balance, one indexed row."""
    balance = (
        LedgerAccount.objects.filter(owner=user, currency=currency)
        .values_list("balance", flat=True)
        .first()
    )
    return Money(balance if balance is not None else ZERO, currency)


# --- Statements ------------------------------------------------------------------------------
@dataclass(frozen=True)
class StatementLine:
    posting: Posting
    entry: JournalEntry
    change: Decimal  # on the account's normal side: + raises its balance
    balance: Decimal  # the account's balance after this posting

    @property
    def debit(self) -> Decimal | None:
        return self.posting.debit

    @property
    def credit(self) -> Decimal | None:
        return self.posting.credit


@dataclass(frozen=True)
class Statement:
    account: LedgerAccount
    page: Page
    lines: list[StatementLine]


def account_statement(*, account: LedgerAccount, page: int = 1, per_page: int = 50) -> Statement:
    """The account's postings newest first, each with the balance it left, one page at a time.

    The balance after the newest posting on the page is the cached balance less what every
    newer posting changed. The cost grows with
    the page number, not with the postings of the account. On PostgreSQL the count, the page
    and the balance are read from one snapshot, so a posting committed meanwhile cannot shift
    the running balances.
    """
    fresh = not connection.in_atomic_block
    with transaction.atomic():
        if fresh and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        return _statement(account, page, per_page)


def _statement(account: LedgerAccount, page: int, per_page: int) -> Statement:
    postings = Posting.objects.filter(account=account).select_related("entry").order_by("-id")
    page_obj = Paginator(postings, per_page).get_page(page)
    rows: list[Posting] = list(page_obj.object_list)
    lines: list[StatementLine] = []
    if rows:
        newest = rows[0].pk
        current = (
            LedgerAccount.objects.filter(pk=account.pk)
            .annotate(
                newer=Coalesce(Sum("postings__amount", filter=Q(postings__id__gt=newest)), ZERO)
            )
            .values_list("balance", "newer")
            .get()
        )
        balance = current[0] - account.normal_sign * current[1]
        for posting in rows:
            change = account.normal_sign * posting.amount
            lines.append(StatementLine(posting, posting.entry, change, balance))
            balance -= change
    return Statement(account, page_obj, lines)


# --- Trial balance ---------------------------------------------------------------------------
@dataclass(frozen=True)
class TrialBalanceRow:
    account: LedgerAccount
    debit: Decimal  # the account's net debit, or zero
    credit: Decimal  # its net credit, or zero


@dataclass
class TrialBalance:
    currency: str
    rows: list[TrialBalanceRow] = field(default_factory=list)

    @property
    def total_debit(self) -> Decimal:
        return sum((row.debit for row in self.rows), ZERO)

    @property
    def total_credit(self) -> Decimal:
        return sum((row.credit for row in self.rows), ZERO)

    @property
    def balanced(self) -> bool:
        return self.total_debit == self.total_credit


def trial_balance(
    *, at: dt.datetime | None = None, before: dt.datetime | None = None
) -> list[TrialBalance]:
    """Each account's net debit or credit per currency, from the postings of entries made up to
    `at` (inclusive) and before `before` (exclusive); all of them when both are None. Customer
    wallets are summed into one line per currency, as finance reads them: what we owe
    customers."""
    postings = Posting.objects.all()
    if at is not None:
        postings = postings.filter(entry__created_at__lte=at)
    if before is not None:
        postings = postings.filter(entry__created_at__lt=before)
    sums = postings.values("account_id").annotate(total=Sum("amount")).order_by()
    by_account = {row["account_id"]: row["total"] for row in sums}
    accounts = LedgerAccount.objects.filter(pk__in=by_account, owner__isnull=True)
    wallets = (
        LedgerAccount.objects.filter(pk__in=by_account, owner__isnull=False)
        .values_list("id", "currency")
        .order_by()
    )
    wallet_totals: dict[str, Decimal] = defaultdict(Decimal)
    for account_id, currency in wallets:
        wallet_totals[currency] += by_account[account_id]

    books: dict[str, TrialBalance] = {}

    def add(account: LedgerAccount, total: Decimal) -> None:
        book = books.setdefault(account.currency, TrialBalance(account.currency))
        book.rows.append(TrialBalanceRow(account, max(total, ZERO), max(-total, ZERO)))

    for account in accounts.order_by("code"):
        add(account, by_account[account.pk])
    for currency, total in wallet_totals.items():
        add(_wallets_line(currency), total)
    for book in books.values():
        book.rows.sort(key=lambda row: row.account.code)
    return [books[currency] for currency in sorted(books)]


def _wallets_line(currency: str) -> LedgerAccount:
    """An unsaved account standing for all customer wallets in `currency`."""
    number = CHART[LedgerAccount.Purpose.CUSTOMER_WALLET].number
    return LedgerAccount(
        code=f"{number}-{currency}",
        name=f"Customer wallets ({currency})",
        type=LedgerAccount.Type.LIABILITY,
        purpose=LedgerAccount.Purpose.CUSTOMER_WALLET,
        currency=currency,
    )


# --- Invariants ------------------------------------------------------------------------------
@dataclass(frozen=True)
class LedgerProblem:
    invariant: str
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"{self.invariant}: {self.subject}: {self.detail}"


def ledger_problems() -> list[LedgerProblem]:
    """Every breach of the ledger's invariants, read from the postings themselves."""
    problems: list[LedgerProblem] = []
    unbalanced = (
        Posting.objects.values("entry_id", "currency")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
        .order_by("entry_id", "currency")
    )
    for row in unbalanced:
        problems.append(
            LedgerProblem(
                "entry does not balance",
                f"entry {row['entry_id']}",
                f"{row['currency']} postings sum to {row['total']}",
            )
        )
    for entry_id, count in (
        JournalEntry.objects.annotate(n=Count("postings"))
        .filter(n__lt=2)
        .values_list("id", "n")
        .order_by("id")
    ):
        problems.append(
            LedgerProblem("entry has fewer than two postings", f"entry {entry_id}", f"{count}")
        )
    for posting_id, currency, account_code, account_currency in (
        Posting.objects.exclude(currency=F("account__currency"))
        .values_list("id", "currency", "account__code", "account__currency")
        .order_by("id")
    ):
        problems.append(
            LedgerProblem(
                "posting in another currency than its account",
                f"posting {posting_id}",
                f"{currency} on {account_code} ({account_currency})",
            )
        )
    posted = Coalesce(Sum("postings__amount"), ZERO)
    expected = Case(
        When(type__in=DEBIT_NORMAL_TYPES, then=posted),
        default=-posted,
        output_field=DecimalField(),
    )
    for code, currency, balance, sum_of_postings in (
        LedgerAccount.objects.annotate(expected=expected)
        .exclude(balance=F("expected"))
        .values_list("code", "currency", "balance", "expected")
        .order_by("id")
    ):
        problems.append(
            LedgerProblem(
                "cached balance differs from its postings",
                f"account {code}",
                f"cached {balance}, postings {sum_of_postings} {currency}",
            )
        )
    for code, currency, balance in (
        LedgerAccount.objects.filter(owner__isnull=False, balance__lt=0)
        .values_list("code", "currency", "balance")
        .order_by("id")
    ):
        problems.append(
            LedgerProblem("wallet below zero", f"account {code}", f"{balance} {currency}")
        )
    return problems
