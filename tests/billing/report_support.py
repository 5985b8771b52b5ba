"""Books for the finance report tests: a small but varied ledger spread over several days,
written through the real services.

PostgreSQL stamps each journal entry with statement_timestamp() inside billing_ledger_post, so no
Python clock can date an entry. The clock edge is moved instead: after a day's services have
posted, `on_day` re-dates that day's new entries, with the append-only trigger switched off for
that one UPDATE inside the test's transaction (rolled back with it).
"""

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import Permission
from django.db import connection
from django.db.models import Max
from django.utils import timezone
from djmoney.money import Money

from accounts.models import User
from billing.models import JournalEntry, LedgerAccount, Order
from billing.services.refunds import refund_issue
from billing.services.wallets import wallet_adjust, wallet_get
from tests.billing.conftest import fund, key
from tests.billing.order_support import bought_esim, plan_for_sale
from tests.factories import UserFactory


@contextmanager
def on_day(day: dt.date, hour: int = 12) -> Iterator[None]:
    """Entries posted inside the block are dated `day` at `hour`, in the shop's time zone."""
    before = JournalEntry.objects.aggregate(last=Max("id"))["last"] or 0
    yield
    backdate_entries_after(before, timezone.make_aware(dt.datetime.combine(day, dt.time(hour))))


def backdate_entries_after(entry_id: int, when: dt.datetime) -> None:
    with connection.cursor() as cursor:
        # Run the deferred checks of what was posted (ALTER TABLE refuses pending trigger events).
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            "ALTER TABLE billing_journalentry DISABLE TRIGGER billing_journalentry_append_only"
        )
        cursor.execute(
            "UPDATE billing_journalentry SET created_at = %s WHERE id > %s", [when, entry_id]
        )
        cursor.execute(
            "ALTER TABLE billing_journalentry ENABLE TRIGGER billing_journalentry_append_only"
        )
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


@dataclass
class Books:
    days: list[dt.date]  # the four past days with entries, oldest first; today has one more
    alice: User  # USD customer
    bob: User  # CNY customer
    alice_wallet: LedgerAccount
    bob_wallet: LedgerAccount
    order: Order  # Alice's, refunded on day 3


def build_books() -> Books:
    """Day 1: counter top-ups (Alice 100 USD, Bob 500 CNY). Day 2: each buys an eSIM (30 USD,
    88 CNY), with its cost of sale. Day 3: Alice's order is refunded to her wallet. Day 4:
    Finance takes 5 USD from Alice and gives Bob 10 CNY. Today: Alice tops up 20 USD more."""
    today = timezone.localdate()
    days = [today - dt.timedelta(days=n) for n in (20, 15, 10, 5)]
    finance = UserFactory(is_staff=True)
    alice, bob = UserFactory(), UserFactory()
    alice_wallet = wallet_get(user=alice, currency="USD")
    bob_wallet = wallet_get(user=bob, currency="CNY")
    usd_plan = plan_for_sale(price="30.00", currency="USD", stock=2)
    cny_plan = plan_for_sale(price="88.00", currency="CNY", stock=2)
    with on_day(days[0]):
        fund(alice_wallet, "100.00")
        fund(bob_wallet, "500.00")
    with on_day(days[1]):
        order, _profile = bought_esim(alice, usd_plan, "USD")
        bought_esim(bob, cny_plan, "CNY")
    with on_day(days[2]):
        refund_issue(
            order=order,
            amount=Decimal("30.00"),
            destination="wallet",
            actor=finance,
            reason="Did not work",
        )
    with on_day(days[3]):
        wallet_adjust(
            wallet=alice_wallet,
            amount=Money("5.00", "USD"),
            credit=False,
            reason="Double credit",
            actor=finance,
            idempotency_key=key("adjust"),
        )
        wallet_adjust(
            wallet=bob_wallet,
            amount=Money("10.00", "CNY"),
            credit=True,
            reason="Goodwill",
            actor=finance,
            idempotency_key=key("adjust"),
        )
    fund(alice_wallet, "20.00")
    for wallet in (alice_wallet, bob_wallet):
        wallet.refresh_from_db()
    return Books(days, alice, bob, alice_wallet, bob_wallet, order)


def more_books(customers: int) -> None:
    """More customers, each with a top-up and a purchase on day 1 of `build_books`' days."""
    day = timezone.localdate() - dt.timedelta(days=20)
    plan = plan_for_sale(price="10.00", currency="USD", stock=customers)
    with on_day(day):
        for _ in range(customers):
            customer = UserFactory()
            fund(wallet_get(user=customer, currency="USD"), "50.00")
            bought_esim(customer, plan, "USD")


def finance_staff(*codenames: str) -> User:
    """A staff user with exactly these billing permissions."""
    user = UserFactory(is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="billing", codename__in=codenames)
    )
    return user
