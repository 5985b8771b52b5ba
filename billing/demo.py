"""Demo money for `make run`: the demo stock on the books, something in the customers' wallets,
the shop's top-up bonus tiers and two coupons.

Idempotent: every entry has a fixed key and every tier a fixed name, so running the seed again
adds nothing new (and leaves a tier staff have since edited as they left it).
"""

import contextlib
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from djmoney.money import Money

from accounts.models import User
from billing.exceptions import IdempotencyConflict
from billing.models import BonusTier, Coupon, JournalEntry, LedgerAccount
from billing.services.inventory import inventory_post
from billing.services.wallets import wallet_credit, wallet_get
from catalog.models import EsimProfile

Purpose = LedgerAccount.Purpose

# (customer, currency, amount): counter top-ups taken in the demo shop.
WALLETS = [
    ("alice@simdesk.test", "USD", "25.00"),
    ("wang.fang@simdesk.test", "CNY", "200.00"),
]

# (name, currency, from amount, percent): bonus credit on larger wallet top-ups.
BONUS_TIERS = [
    ("Top-up bonus", "USD", "50.00", "5"),
    ("Top-up bonus", "CNY", "300.00", "5"),
    ("Big top-up bonus", "CNY", "1000.00", "8"),
]

# (code, description, kind, value, currency, minimum spend, total uses): demo coupons.
COUPONS = [
    ("WELCOME10", "10% off your first eSIM", "percent", "10", "", None, None),
    ("TRAVEL5", "5 USD off from 20 USD", "fixed", "5.00", "USD", "20.00", 100),
]


@dataclass(frozen=True)
class DemoLedgerSummary:
    entries: int
    wallets: list[tuple[str, Money]]


@transaction.atomic
def demo_ledger_seed() -> DemoLedgerSummary:
    _demo_stock_post()
    _demo_bonus_tiers_create()
    _demo_coupons_create()
    wallets = []
    for email, currency, amount in WALLETS:
        user = User.objects.filter(email=email).first()
        if user is None:
            continue
        wallet = wallet_get(user=user, currency=currency)
        wallet_credit(
            wallet=wallet,
            amount=Money(Decimal(amount), currency),
            source=Purpose.CASH_ON_HAND,
            idempotency_key=f"demo:wallet:{email}:{currency}",
            kind=JournalEntry.Kind.COUNTER_TOPUP,
            memo="Demo: cash top-up at the counter",
        )
        wallet.refresh_from_db()
        wallets.append((email, wallet.balance_money))
    return DemoLedgerSummary(JournalEntry.objects.count(), wallets)


def _demo_stock_post() -> None:
    """The demo profiles were made without an import: put their cost on the books once."""
    totals = (
        EsimProfile.objects.filter(batch__isnull=True, wholesale_cost__gt=0)
        .values_list("wholesale_cost_currency")
        .annotate(total=Sum("wholesale_cost"))
        .order_by("wholesale_cost_currency")
    )
    for currency, total in totals:
        # Should the demo stock grow after the first seed, its first cost stays on the books.
        with contextlib.suppress(IdempotencyConflict):
            inventory_post(
                cost=Money(total, currency),
                idempotency_key=f"inventory:demo:{currency}",
                memo="Demo: opening eSIM stock",
            )


def _demo_bonus_tiers_create() -> None:
    for name, currency, min_amount, percent in BONUS_TIERS:
        BonusTier.objects.get_or_create(
            name=name,
            currency=currency,
            defaults={"min_amount": Decimal(min_amount), "percent": Decimal(percent)},
        )


def _demo_coupons_create() -> None:
    for code, description, kind, value, currency, min_spend, max_uses in COUPONS:
        Coupon.objects.get_or_create(
            code=code,
            defaults={
                "description": description,
                "kind": kind,
                "percent": Decimal(value) if kind == Coupon.Kind.PERCENT else None,
                "amount": Decimal(value) if kind == Coupon.Kind.FIXED else None,
                "currency": currency,
                "min_spend": Decimal(min_spend) if min_spend else None,
                "max_uses": max_uses,
                "max_uses_per_customer": 1,
            },
        )
