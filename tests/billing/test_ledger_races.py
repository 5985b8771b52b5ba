"""Races on PostgreSQL with committed transactions: threads, each on its own connection."""

import random
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import TypeVar

import pytest
from django.core.management import call_command
from django.db import connection
from djmoney.money import Money

from billing.exceptions import InsufficientFunds
from billing.models import JournalEntry, LedgerAccount
from billing.services.ledger import Line, ledger_post, system_account_get
from billing.services.wallets import wallet_credit, wallet_debit, wallet_get
from tests.billing.conftest import balance_of, fund
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
Purpose = LedgerAccount.Purpose
Kind = JournalEntry.Kind
T = TypeVar("T")
ONE = Money("1.00", "USD")


def on_own_connection(work: Callable[[], T]) -> Callable[[], T]:
    def run() -> T:
        try:
            return work()
        finally:
            connection.close()

    return run


def test_two_hundred_debits_from_sixteen_threads_against_fifty(ledger_backend, wallet):
    fund(wallet, "50.00")
    start = threading.Barrier(16)

    def debit(n: int) -> str:
        if n < 16:
            start.wait()  # the first sixteen leave together
        try:
            wallet_debit(
                wallet=wallet,
                amount=ONE,
                destination=Purpose.SALES_REVENUE,
                idempotency_key=f"race:debit:{n}",
                kind=Kind.PURCHASE,
            )
        except InsufficientFunds as refused:
            assert refused.balance.amount < 1 and refused.shortfall.amount > 0
            return "refused"
        return "debited"

    with ThreadPoolExecutor(16) as pool:
        outcomes = Counter(pool.map(lambda n: on_own_connection(lambda: debit(n))(), range(200)))

    assert outcomes == {"debited": 50, "refused": 150}
    assert balance_of(wallet) == Decimal("0.00")
    assert JournalEntry.objects.filter(kind=Kind.PURCHASE).count() == 50
    call_command("ledger_verify")  # raises CommandError on any problem


def test_mixed_credits_and_debits_across_ten_wallets_conserve_the_total(ledger_backend):
    wallets = [wallet_get(user=UserFactory(), currency="USD") for _ in range(10)]
    for wallet in wallets:
        fund(wallet, "20.00")
    system_account_get(purpose=Purpose.SALES_REVENUE, currency="USD")
    done = threading.Event()
    reads: list[tuple[Decimal, Decimal]] = []
    failures: list[str] = []

    def totals() -> tuple[Decimal, Decimal]:
        # Every account's balance signed back (the books sum to zero), and the wallets less what
        # came in from cash plus what went out to sales (constant: transfers stay inside).
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT coalesce(sum(CASE WHEN type IN ('asset', 'expense')"
                "                         THEN balance ELSE -balance END), 0),"
                " coalesce(sum(balance) FILTER (WHERE owner_id IS NOT NULL), 0)"
                " - coalesce(sum(balance) FILTER (WHERE purpose = 'cash_on_hand'), 0)"
                " + coalesce(sum(balance) FILTER (WHERE purpose = 'sales_revenue'), 0)"
                " FROM billing_ledgeraccount WHERE currency = 'USD'"
            )
            return cursor.fetchone()

    baseline = totals()

    def reader() -> None:
        while not done.is_set():
            read = totals()
            reads.append(read)
            if read != (0, baseline[1]):
                failures.append(f"read {read}, expected (0, {baseline[1]})")

    def worker(seed: int) -> Counter:
        rng = random.Random(seed)
        tally: Counter = Counter()
        for n in range(40):
            wallet = rng.choice(wallets)
            amount = Money(Decimal(rng.randint(1, 900)) / 100, "USD")
            key = f"mixed:{seed}:{n}"
            if rng.random() < 0.4:
                wallet_credit(
                    wallet=wallet,
                    amount=amount,
                    source=Purpose.CASH_ON_HAND,
                    idempotency_key=key,
                    kind=Kind.COUNTER_TOPUP,
                )
                tally["credit"] += 1
            elif rng.random() < 0.5:
                other = rng.choice([w for w in wallets if w.pk != wallet.pk])
                try:
                    ledger_post(
                        lines=[Line(wallet, amount), Line(other, -amount)],
                        idempotency_key=key,
                        kind=Kind.TRANSFER,
                    )
                    tally["transfer"] += 1
                except InsufficientFunds:
                    tally["refused"] += 1
            else:
                try:
                    wallet_debit(
                        wallet=wallet,
                        amount=amount,
                        destination=Purpose.SALES_REVENUE,
                        idempotency_key=key,
                        kind=Kind.PURCHASE,
                    )
                    tally["debit"] += 1
                except InsufficientFunds:
                    tally["refused"] += 1
        return tally

    watcher = threading.Thread(target=on_own_connection(reader))
    watcher.start()
    try:
        with ThreadPoolExecutor(8) as pool:
            tallies = list(
                pool.map(lambda seed: on_own_connection(lambda: worker(seed))(), range(8))
            )
    finally:
        done.set()
        watcher.join()

    total = sum(tallies, Counter())
    assert total["credit"] and total["debit"] and total["transfer"]
    assert len(reads) > 10 and not failures, failures[:5]
    assert all(balance_of(wallet) >= 0 for wallet in wallets)
    call_command("ledger_verify")


def test_one_key_posted_twenty_times_at_once_makes_one_entry(ledger_backend, wallet):
    cash = system_account_get(purpose=Purpose.CASH_ON_HAND, currency="USD")
    start = threading.Barrier(20)

    def post() -> int:
        start.wait()
        entry = ledger_post(
            lines=[Line(cash, Money("15.00", "USD")), Line(wallet, Money("-15.00", "USD"))],
            idempotency_key="payment:42:captured",
            kind=Kind.TOPUP,
        )
        return entry.pk

    with ThreadPoolExecutor(20) as pool:
        ids = list(pool.map(lambda _: on_own_connection(post)(), range(20)))

    assert len(set(ids)) == 1
    assert JournalEntry.objects.filter(idempotency_key="payment:42:captured").count() == 1
    assert balance_of(wallet) == Decimal("15.00")
    call_command("ledger_verify")
