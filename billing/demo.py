"""Demo money for `make run`: the demo stock on the books, something in the customers' wallets,
the shop's top-up bonus tiers, two coupons, and an eSIM for each demo customer bought from the
wallet and well into its period (Wang Fang's is a number-keeping card that renews itself).

Idempotent: every entry has a fixed key and every tier a fixed name, so running the seed again
adds nothing new (and leaves a tier staff have since edited as they left it).
"""

import contextlib
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from djmoney.money import Money

from accounts.models import User
from billing.exceptions import IdempotencyConflict
from billing.models import BonusTier, Coupon, Delivery, JournalEntry, LedgerAccount, OrderLine
from billing.services.inventory import inventory_post
from billing.services.orders import LineRequest, order_create, order_pay_wallet_locked
from billing.services.renewals import auto_renewal_set
from billing.services.wallets import wallet_credit, wallet_get
from catalog.models import EsimProfile, Plan
from catalog.services.bundles import profile_first_use

Purpose = LedgerAccount.Purpose

# (customer, currency, amount): counter top-ups taken in the demo shop.
WALLETS = [
    ("alice@simdesk.test", "USD", "25.00"),
    ("wang.fang@simdesk.test", "CNY", "200.00"),
]

# The demo eSIM each customer owns: (kind of plan, country).
DEMO_ESIMS = {
    "alice@simdesk.test": (Plan.Kind.DATA, "JP"),
    "wang.fang@simdesk.test": (Plan.Kind.NUMBER_KEEPING, "CN"),
}

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
    for email, currency, _amount in WALLETS:
        _demo_esim_create(email, currency)
    for email, currency, _amount in WALLETS:
        user = User.objects.filter(email=email).first()
        if user is not None:
            wallet = wallet_get(user=user, currency=currency)
            wallets.append((email, wallet.balance_money))
    return DemoLedgerSummary(JournalEntry.objects.count(), wallets)


def _demo_esim_create(email: str, currency: str) -> None:
    """The customer's demo eSIM, bought from the wallet, its period ending in 2 days; once."""
    user = User.objects.filter(email=email).first()
    kind, country = DEMO_ESIMS[email]
    plan = (
        Plan.objects.filter(
            kind=kind,
            country=country,
            is_active=True,
            renewable=True,
            prices__price_currency=currency,
        )
        .order_by("validity_days", "code")
        .first()
    )
    if user is None or plan is None or user.esims.exists():
        return
    order = order_create(
        customer=user, currency=currency, lines=[LineRequest(kind=OrderLine.Kind.ESIM, plan=plan)]
    )
    wallet = wallet_get(user=user, currency=currency)
    LedgerAccount.objects.select_for_update().get(pk=wallet.pk)
    # The shop's gift for the demo eSIM, so the wallet still shows its demo amount.
    wallet_credit(
        wallet=wallet,
        amount=order.total_money,
        source=Purpose.PROMOTIONS,
        idempotency_key=f"demo:esim-gift:{email}",
        kind=JournalEntry.Kind.ADJUSTMENT,
        memo="Demo: the first eSIM is on the shop",
    )
    order_pay_wallet_locked(order, wallet, idempotency_key=f"order:{order.pk}:sale")
    delivery = Delivery.objects.filter(line__order=order).select_related("profile").first()
    if delivery is None:  # no demo stock left for the plan
        return
    started = timezone.now() - timedelta(days=plan.validity_days) + timedelta(days=2)
    profile_first_use(profile=delivery.profile, at=started)
    if kind == Plan.Kind.NUMBER_KEEPING:
        auto_renewal_set(customer=user, profile=delivery.profile, plan=plan, currency=currency)


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
