"""Helpers for order tests: a plan for sale with stock, an add-on that fits it, a customer
with money in the wallet, and a paid order with its eSIM."""

import itertools
from decimal import Decimal

from djmoney.money import Money

from accounts.models import User
from billing.models import Order
from billing.services.orders import LineRequest, order_pay_wallet, order_place
from billing.services.wallets import wallet_get
from catalog.models import EsimProfile, Plan, PlanPrice
from tests.billing.conftest import fund
from tests.catalog.factories import PlanFactory, make_profiles
from tests.factories import UserFactory

_profile_numbers = itertools.count(500_000, 1_000)


def plan_for_sale(
    *, price: str = "10.00", currency: str = "USD", stock: int = 5, **fields: object
) -> Plan:
    """An active plan priced in `currency`, with `stock` available profiles."""
    plan = PlanFactory(**fields)
    PlanPrice.objects.create(plan=plan, price=Money(Decimal(price), currency))
    if stock:
        make_profiles(plan, stock, start=next(_profile_numbers))
    return plan


def addon_for(
    base: Plan,
    *,
    price: str = "3.00",
    currency: str = "USD",
    mode: str = Plan.AddonMode.QUEUE,
    data_mb: int = 1024,
) -> Plan:
    """A top-up add-on that fits `base`."""
    addon = PlanFactory(
        kind=Plan.Kind.TOPUP,
        country=base.country,
        region=base.region,
        data_mb=data_mb,
        addon_mode=mode,
        code=f"{base.code}-addon-{mode}-{data_mb}",
        name=f"{base.name} add-on {data_mb} MB",
    )
    addon.fits.add(base)
    PlanPrice.objects.create(plan=addon, price=Money(Decimal(price), currency))
    return addon


def funded_customer(amount: str = "100.00", currency: str = "USD", **fields: object) -> User:
    customer = UserFactory(**fields)
    if Decimal(amount) > 0:
        fund(wallet_get(user=customer, currency=currency), amount)
    return customer


def bought_esim(customer: User, plan: Plan, currency: str = "USD") -> tuple[Order, EsimProfile]:
    """Place and pay (from the wallet) an order for one eSIM of `plan`."""
    order = order_place(
        customer=customer, currency=currency, lines=[LineRequest(kind="esim", plan=plan)]
    )
    order = order_pay_wallet(order=order)
    profile = EsimProfile.objects.filter(deliveries__line__order=order).get()
    return order, profile


# --- Added for the order service tests (helper C) -------------------------------------


def entry_postings(idempotency_key: str) -> dict[str, Decimal]:
    """The journal entry with this key, as {account purpose: signed amount} (debits positive)."""
    from billing.models import JournalEntry

    entry = JournalEntry.objects.get(idempotency_key=idempotency_key)
    return {
        posting.account.purpose: posting.amount
        for posting in entry.postings.select_related("account")
    }


def reseller_staff_user(**fields: object) -> User:
    """A staff user in the "Reseller staff" group (who gets the awaiting-stock alert)."""
    from django.contrib.auth.models import Group

    from accounts.roles import RESELLER_STAFF

    user = UserFactory(is_staff=True, **fields)
    user.groups.add(Group.objects.get_or_create(name=RESELLER_STAFF)[0])
    return user


def sandbox_events_to(client: object, monkeypatch: object) -> list[bytes]:
    """Deliver the sandbox gateway's events through the test client to our webhook (in place
    of its HTTP POST); returns the list of bodies delivered."""
    from billing.tasks import sandbox_event_deliver_task
    from tests.billing.payment_support import signed

    delivered: list[bytes] = []

    def deliver(url: str, body: str) -> None:
        import json

        payload, headers = signed(json.loads(body))
        response = client.post(  # type: ignore[attr-defined]
            "/pay/webhooks/sandbox/",
            data=payload,
            content_type="application/json",
            headers=headers,
        )
        assert response.status_code == 200, response.content
        delivered.append(payload)

    monkeypatch.setattr(sandbox_event_deliver_task, "delay", deliver)  # type: ignore[attr-defined]
    return delivered
