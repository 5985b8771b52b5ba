"""Helpers for renewal tests: a card with a running bundle, a card saved at the sandbox gateway
through the real checkout flow, and auto-renewal turned on."""

import uuid
from datetime import datetime, timedelta

from django.utils import timezone

from accounts.models import User
from billing.gateways.sandbox import sandbox_pay
from billing.models import AutoRenewal, Order, OrderLine, Payment, SandboxCharge
from billing.services.fulfilment import order_fulfil
from billing.services.orders import LineRequest, order_payment_start, order_place
from billing.services.payments import payment_refresh
from billing.services.renewals import auto_renewal_set
from catalog.models import Bundle, EsimProfile, Plan
from tests.billing.order_support import bought_esim


def run_bundle(profile: EsimProfile, *, ends_in: timedelta, now: datetime | None = None) -> Bundle:
    """Make the card's first bundle the running one, ending `ends_in` from now."""
    now = now or timezone.now()
    bundle = profile.bundles.order_by("pk").first()
    assert bundle is not None
    ends_at = now + ends_in
    bundle.status = Bundle.Status.ACTIVE
    bundle.ends_at = ends_at
    bundle.starts_at = ends_at - timedelta(days=bundle.plan.validity_days)
    bundle.save(update_fields=["status", "starts_at", "ends_at"])
    return bundle


def card_bought_esim(
    customer: User, plan: Plan, currency: str = "USD"
) -> tuple[Order, EsimProfile]:
    """Buy one eSIM of `plan` with the sandbox's card page ("Pay"): the card is saved for
    off-session charges and the wallet stays as it was. The sandbox sends no events (no
    webhook URL): the look-up a sweeper would make applies the payment."""
    order = order_place(
        customer=customer,
        currency=currency,
        lines=[LineRequest(kind=OrderLine.Kind.ESIM, plan=plan)],
    )
    payment = order_payment_start(
        order=order,
        method=Payment.Method.SANDBOX,
        request_token=uuid.uuid4(),
        return_url=lambda p: f"http://testserver/orders/{p.public_id}/",
        cancel_url="http://testserver/checkout/",
        webhook_url="",
    )
    charge = SandboxCharge.objects.get(reference=str(payment.public_id))
    sandbox_pay(token=str(charge.token))
    payment = payment_refresh(payment_id=payment.pk)
    assert payment.status == Payment.Status.SUCCEEDED, payment.status
    assert payment.gateway_method_id.startswith("sbx_pm_")
    order_fulfil(order_id=order.pk)  # what the capture enqueued, whether or not it ran yet
    profile = EsimProfile.objects.filter(deliveries__line__order=order).get()
    return order, profile


def card_declines(customer: User) -> None:
    """The customer's saved card now declines (the sandbox's declining method)."""
    from billing.gateways.sandbox import DECLINING_METHOD

    Payment.objects.filter(customer=customer).exclude(gateway_method_id="").update(
        gateway_method_id=DECLINING_METHOD
    )


def auto_on(customer: User, profile: EsimProfile, plan: Plan | None = None) -> AutoRenewal:
    return auto_renewal_set(
        customer=customer, profile=profile, plan=plan or profile.plan, currency="USD"
    )


def renewable_card(
    customer: User, plan: Plan, *, ends_in: timedelta = timedelta(hours=10), card: bool = False
) -> tuple[EsimProfile, Bundle]:
    """A card of `customer` with a running bundle ending `ends_in` from now and auto-renewal
    on; bought by card (saved) when `card`, else from the wallet."""
    if card:
        _order, profile = card_bought_esim(customer, plan)
    else:
        _order, profile = bought_esim(customer, plan)
    bundle = run_bundle(profile, ends_in=ends_in)
    auto_on(customer, profile)
    return profile, bundle
