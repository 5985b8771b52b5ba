from decimal import ROUND_DOWN, Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Sum
from djmoney.money import Money

from accounts.models import User
from billing.models import BonusTier, Coupon, JournalEntry, LedgerAccount, OrderLine
from billing.selectors.ledger import wallet_balance
from billing.services.orders import LineRequest, order_quote
from billing.services.topups import topup_bonus
from catalog.models import EsimProfile, Plan

pytestmark = pytest.mark.django_db


def test_seed_demo_puts_the_stock_on_the_books_and_money_in_wallets_once():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "alice@simdesk.test 25.00 USD" in out.getvalue()
    entries = JournalEntry.objects.count()

    call_command("seed_demo", stdout=StringIO())

    assert JournalEntry.objects.count() == entries
    alice = User.objects.get(email="alice@simdesk.test")
    wang = User.objects.get(email="wang.fang@simdesk.test")
    assert wallet_balance(user=alice, currency="USD").amount == Decimal("25.00")
    assert wallet_balance(user=wang, currency="CNY").amount == Decimal("200.00")
    # Each demo customer owns one eSIM bought from the wallet (a gift covered it): the stock
    # on the books is what was not sold.
    stock = EsimProfile.objects.filter(wholesale_cost_currency="USD", status="available").aggregate(
        total=Sum("wholesale_cost")
    )["total"]
    inventory = LedgerAccount.objects.get(purpose="esim_inventory", currency="USD")
    assert inventory.balance == stock > 0
    assert alice.esims.get().bundles.get().status == "active"
    wang_card = wang.esims.get()
    assert wang_card.plan.kind == Plan.Kind.NUMBER_KEEPING
    assert wang_card.auto_renewal.enabled


def test_seed_demo_adds_the_bonus_tiers_once_and_keeps_staff_edits():
    call_command("seed_demo", stdout=StringIO())
    tier = BonusTier.objects.get(currency="USD")
    tier.percent = Decimal("6")
    tier.save()

    call_command("seed_demo", stdout=StringIO())

    assert sorted(BonusTier.objects.values_list("currency", "min_amount", "percent")) == [
        ("CNY", Decimal("300.00"), Decimal("5.00")),
        ("CNY", Decimal("1000.00"), Decimal("8.00")),
        ("USD", Decimal("50.00"), Decimal("6.00")),
    ]
    assert topup_bonus(Money("1000.00", "CNY"))[1] == Money("80.00", "CNY")
    assert topup_bonus(Money("999.99", "CNY"))[1] == Money("49.99", "CNY")
    assert topup_bonus(Money("299.99", "CNY"))[1] == Money("0", "CNY")


def test_seed_demo_adds_coupons_that_apply_at_checkout():
    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())
    alice = User.objects.get(email="alice@simdesk.test")
    plan = Plan.objects.filter(kind=Plan.Kind.DATA, prices__price_currency="USD").first()
    assert plan is not None

    quote = order_quote(
        customer=alice,
        currency="USD",
        lines=[LineRequest(kind=OrderLine.Kind.ESIM, plan=plan)],
        coupon_code="welcome10",
    )

    assert Coupon.objects.filter(code__in=["WELCOME10", "TRAVEL5"]).count() == 2
    assert quote.discount == (quote.subtotal / 10).quantize(Decimal("0.01"), ROUND_DOWN) > 0
