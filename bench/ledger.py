"""Figures of the ledger: concurrent wallet debits, a wallet's balance and the trial balance
over a million postings.

- `wallet_debits`: 8 threads, each debiting its own customer's wallet 1.00 USD into sales
  revenue as fast as it can (every debit one `billing_ledger_post` call, all of them also
  crediting the one sales revenue account); the ledger's invariants are checked afterwards.
- `wallet_balance_read` and `trial_balance` share one seed: 500,000 balanced entries written by
  SQL, each with one of its two postings on the same wallet, so that wallet carries 1,000,000
  postings. The seed goes through the database's triggers and foreign keys (about 25 s on
  the bench box; with them off, session_replication_role = replica, it took 5 s, not worth
  the weaker proof) and is checked again by `ledger_problems()`.
"""

import threading
import time
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from bench.threads import threads_run

if TYPE_CHECKING:  # bench.figures imports this module
    from accounts.models import User
    from bench.figures import BenchContext, Measurement

CURRENCY = "USD"

THREADS = 8
DEBIT = Decimal("1.00")
FUNDING = Decimal("1000000.00")  # per wallet: far more than 8 threads can debit in a run
DEBIT_EMAIL = "bench-wallet-{index}@example.com"

SEED_EMAIL = "bench-ledger-seed@example.com"
SEED_ENTRIES = 500_000
SEED_POSTINGS = 2 * SEED_ENTRIES  # on the seeded wallet: one per entry
SEED_TOPUP = Decimal("2.00")  # odd entries: cash on hand -> wallet
SEED_PURCHASE = Decimal("1.00")  # even entries: wallet -> sales revenue
SEED_BALANCE = (SEED_ENTRIES + 1) // 2 * SEED_TOPUP - SEED_ENTRIES // 2 * SEED_PURCHASE
BALANCE_GOAL_MS = 1.0
TRIAL_BALANCE_GOAL_SECONDS = 1.0
TRIAL_BALANCE_MIN_CALLS = 3

_seed_seconds: float | None = None  # how long the shared setup took, for the details


class LedgerInconsistent(RuntimeError):
    """The ledger breaks an invariant after a figure (or its seed) wrote to it."""


def _check_ledger(after: str) -> None:
    from billing.selectors.ledger import ledger_problems

    problems = ledger_problems()
    if problems:
        shown = "\n".join(str(problem) for problem in problems[:20])
        raise LedgerInconsistent(f"{len(problems)} ledger problems after {after}:\n{shown}")


def _user(email: str) -> "User":
    from accounts.models import User

    return User.objects.get(email=email)


# --- wallet_debits ---------------------------------------------------------------------------
def debits_setup(ctx: "BenchContext") -> None:
    """One customer per thread, each with a USD wallet holding FUNDING."""
    from djmoney.money import Money

    from accounts.models import User
    from billing.models import JournalEntry, LedgerAccount
    from billing.services.wallets import wallet_credit, wallet_get

    for index in range(THREADS):
        user = User.objects.create_user(DEBIT_EMAIL.format(index=index))
        wallet_credit(
            wallet=wallet_get(user=user, currency=CURRENCY),
            amount=Money(FUNDING, CURRENCY),
            source=LedgerAccount.Purpose.CASH_ON_HAND,
            idempotency_key=f"bench-debits-funding-{index}",
            kind=JournalEntry.Kind.COUNTER_TOPUP,
        )


def debits_measure(ctx: "BenchContext") -> "Measurement":
    from django.db import connection
    from djmoney.money import Money

    from bench.figures import Measurement
    from billing.models import JournalEntry, LedgerAccount
    from billing.selectors.ledger import wallet_balance
    from billing.services.ledger import system_account_get
    from billing.services.wallets import wallet_debit, wallet_get

    users = [_user(DEBIT_EMAIL.format(index=index)) for index in range(THREADS)]
    wallets = [wallet_get(user=user, currency=CURRENCY) for user in users]
    system_account_get(purpose=LedgerAccount.Purpose.SALES_REVENUE, currency=CURRENCY)
    amount = Money(DEBIT, CURRENCY)
    run = uuid.uuid4().hex[:12]  # keys unique across runs on the same database too
    timing: dict[str, float] = {}
    counts = [0] * THREADS
    ends = [0.0] * THREADS
    errors: list[BaseException] = []

    def start_clock() -> None:  # run by one thread once all have warmed up
        timing["start"] = time.perf_counter()
        timing["deadline"] = timing["start"] + ctx.duration

    barrier = threading.Barrier(THREADS, action=start_clock)

    def work(index: int) -> None:
        wallet = wallets[index]
        calls = 0

        def debit() -> None:
            nonlocal calls
            wallet_debit(
                wallet=wallet,
                amount=amount,
                destination=LedgerAccount.Purpose.SALES_REVENUE,
                idempotency_key=f"bench-debit-{run}-{index}-{calls}",
                kind=JournalEntry.Kind.PURCHASE,
            )
            calls += 1

        try:
            debit()  # untimed: connect, prepare the posting statement
            barrier.wait()
            deadline = timing["deadline"]
            while time.perf_counter() < deadline:
                debit()
                counts[index] += 1
            ends[index] = time.perf_counter()
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()  # the others stop waiting, rather than hang
        finally:
            connection.close()

    threads_run(work, errors, THREADS)

    elapsed = max(ends) - timing["start"]
    debits = sum(counts)
    for index, user in enumerate(users):
        expected = FUNDING - (counts[index] + 1) * DEBIT  # + the warm-up debit
        held = wallet_balance(user=user, currency=CURRENCY).amount
        if held != expected:
            raise LedgerInconsistent(f"wallet {index} holds {held}, expected {expected}")
    _check_ledger("the wallet debits")
    per_thread = [round(count / elapsed, 1) for count in counts]
    return Measurement(
        value=debits / elapsed,
        details={
            "threads": THREADS,
            "debits": debits,
            "seconds": round(elapsed, 2),
            "debits_per_second_per_thread": per_thread,
        },
        note=(
            f"{debits:,} debits by {THREADS} threads in {elapsed:.1f} s "
            f"({min(per_thread):.0f} to {max(per_thread):.0f}/s per thread); ledger consistent"
        ),
    )


# --- The million-posting seed ------------------------------------------------------------------
# One statement: the entries, alternately a counter top-up (cash on hand -> wallet) and a
# purchase (wallet -> sales revenue), each with its two postings; the wallet takes one of each.
SEED_SQL = """
WITH entries AS (
    INSERT INTO billing_journalentry (kind, memo, created_at, idempotency_key)
    SELECT CASE WHEN n %% 2 = 1 THEN %(topup)s ELSE %(purchase)s END, '', now(),
           'bench-seed-' || n
      FROM generate_series(1, %(entries)s) AS n
     ORDER BY n
    RETURNING id, kind
)
INSERT INTO billing_posting (entry_id, account_id, amount, currency)
SELECT e.id, l.account_id, l.amount, %(currency)s
  FROM entries e
  JOIN (VALUES (%(topup)s, %(wallet)s::bigint, -%(topup_amount)s::numeric),
               (%(topup)s, %(cash)s::bigint, %(topup_amount)s::numeric),
               (%(purchase)s, %(wallet)s::bigint, %(purchase_amount)s::numeric),
               (%(purchase)s, %(sales)s::bigint, -%(purchase_amount)s::numeric))
       AS l(kind, account_id, amount) USING (kind)
 ORDER BY e.id, l.account_id
"""

# The cached balances of the touched accounts: the sums of all their postings, normal side up.
BALANCES_SQL = """
UPDATE billing_ledgeraccount a
   SET balance = CASE WHEN a.type IN ('asset', 'expense') THEN s.total ELSE -s.total END
  FROM (SELECT account_id, sum(amount) AS total FROM billing_posting
         WHERE account_id = ANY(%s) GROUP BY account_id) s
 WHERE a.id = s.account_id
"""


def seed_setup(ctx: "BenchContext") -> None:
    """SEED_ENTRIES entries, SEED_POSTINGS postings on one customer's USD wallet."""
    global _seed_seconds
    from django.db import connection, transaction

    from accounts.models import User
    from billing.models import JournalEntry, LedgerAccount
    from billing.services.ledger import system_account_get
    from billing.services.wallets import wallet_get

    start = time.perf_counter()
    wallet = wallet_get(user=User.objects.create_user(SEED_EMAIL), currency=CURRENCY)
    cash = system_account_get(purpose=LedgerAccount.Purpose.CASH_ON_HAND, currency=CURRENCY)
    sales = system_account_get(purpose=LedgerAccount.Purpose.SALES_REVENUE, currency=CURRENCY)
    params: dict[str, Any] = {
        "entries": SEED_ENTRIES,
        "topup": JournalEntry.Kind.COUNTER_TOPUP.value,
        "purchase": JournalEntry.Kind.PURCHASE.value,
        "topup_amount": SEED_TOPUP,
        "purchase_amount": SEED_PURCHASE,
        "currency": CURRENCY,
        "wallet": wallet.pk,
        "cash": cash.pk,
        "sales": sales.pk,
    }
    # One transaction, with every trigger and foreign key of the ledger checking it at commit.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(SEED_SQL, params)
        if cursor.rowcount != SEED_POSTINGS:
            raise RuntimeError(f"seeded {cursor.rowcount} postings, expected {SEED_POSTINGS}")
        cursor.execute(BALANCES_SQL, [[wallet.pk, cash.pk, sales.pk]])
    with connection.cursor() as cursor:  # outside a transaction, as VACUUM must be
        cursor.execute("VACUUM ANALYZE billing_journalentry, billing_posting")
    seeded = time.perf_counter()
    _check_ledger("seeding")
    _seed_seconds = time.perf_counter() - start
    print(
        f"seeded {SEED_ENTRIES:,} entries, {SEED_POSTINGS:,} postings on one wallet in "
        f"{seeded - start:.1f} s; ledger checked in {time.perf_counter() - seeded:.1f} s",
        flush=True,
    )


# --- wallet_balance_read -----------------------------------------------------------------------
def balance_measure(ctx: "BenchContext") -> "Measurement":
    from bench.figures import Measurement, measure_rate
    from billing.selectors.ledger import wallet_balance

    user = _user(SEED_EMAIL)
    held = wallet_balance(user=user, currency=CURRENCY).amount
    if held != SEED_BALANCE:
        raise LedgerInconsistent(f"the seeded wallet holds {held}, expected {SEED_BALANCE}")
    reads = measure_rate(ctx, lambda: wallet_balance(user=user, currency=CURRENCY))
    ms = 1000 / reads
    details: dict[str, Any] = {
        "postings": SEED_POSTINGS,
        "ms_per_read": round(ms, 4),
        "goal_ms": BALANCE_GOAL_MS,
    }
    if _seed_seconds is not None:
        details["seed_seconds"] = round(_seed_seconds, 1)
    return Measurement(
        value=reads,
        details=details,
        note=(
            f"{ms:.3f} ms per read of a wallet with {SEED_POSTINGS:,} postings "
            f"(goal {BALANCE_GOAL_MS:g} ms or less)"
        ),
    )


# --- trial_balance -----------------------------------------------------------------------------
def trial_balance_measure(ctx: "BenchContext") -> "Measurement":
    from django.utils import timezone

    from bench.figures import Measurement
    from billing.selectors.ledger import TrialBalance, trial_balance

    def check(books: list[TrialBalance]) -> None:
        if CURRENCY not in {book.currency for book in books}:
            raise LedgerInconsistent(f"no {CURRENCY} in the trial balance")
        for book in books:
            if not book.balanced:
                raise LedgerInconsistent(
                    f"trial balance in {book.currency} does not balance: debits "
                    f"{book.total_debit}, credits {book.total_credit}"
                )

    check(trial_balance(at=timezone.now()))  # untimed
    times: list[float] = []
    deadline = time.perf_counter() + ctx.duration
    while len(times) < TRIAL_BALANCE_MIN_CALLS or time.perf_counter() < deadline:
        start = time.perf_counter()
        books = trial_balance(at=timezone.now())
        times.append(time.perf_counter() - start)
        check(books)
    seconds = sum(times) / len(times)
    return Measurement(
        value=1 / seconds,
        details={
            "postings": SEED_POSTINGS,
            "calls": len(times),
            "seconds_per_trial_balance": round(seconds, 3),
            "fastest_seconds": round(min(times), 3),
            "goal_seconds": TRIAL_BALANCE_GOAL_SECONDS,
        },
        note=(
            f"{seconds:.3f} s per trial balance over {SEED_POSTINGS:,}+ postings, "
            f"{len(times)} calls, fastest {min(times):.3f} s "
            f"(goal {TRIAL_BALANCE_GOAL_SECONDS:g} s or less); balanced"
        ),
    )
