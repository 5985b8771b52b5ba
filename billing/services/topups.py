"""Wallet top-ups (充值): limits and presets per currency, bonus tiers, starting a payment at
the gateway, and money received at the store counter or by bank transfer."""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from djmoney.money import Money

from billing.exceptions import TopupRefused
from billing.gateways import checkout_gateway, checkout_methods
from billing.models import BonusTier, Payment
from billing.money import UnsupportedCurrency, is_exact, minor_exponent, quantum
from billing.services.payments import payment_capture, payment_checkout_open

if TYPE_CHECKING:
    from accounts.models import User

Method = Payment.Method
COUNTER_METHODS = (Method.CASH, Method.BANK_TRANSFER)


@dataclass(frozen=True)
class TopupLimits:
    currency: str
    minimum: Money
    maximum: Money
    presets: list[Money]


def topup_currencies() -> list[str]:
    return [c for c in settings.SIMDESK_CURRENCIES if c in settings.SIMDESK_TOPUP_LIMITS]


def topup_limits(currency: str) -> TopupLimits:
    config = settings.SIMDESK_TOPUP_LIMITS.get(currency)
    if config is None or currency not in settings.SIMDESK_CURRENCIES:
        raise TopupRefused(_("Top-ups in %(currency)s are not offered.") % {"currency": currency})
    return TopupLimits(
        currency=currency,
        minimum=Money(Decimal(config["min"]), currency),
        maximum=Money(Decimal(config["max"]), currency),
        presets=[Money(Decimal(p), currency) for p in config["presets"]],
    )


def topup_amount_check(amount: Money) -> None:
    """Raise TopupRefused, with a message for the customer, unless `amount` may be topped up."""
    currency = str(amount.currency)
    limits = topup_limits(currency)
    try:
        exact = is_exact(amount)
    except UnsupportedCurrency as exc:
        raise TopupRefused(str(exc)) from exc
    if not exact:
        raise TopupRefused(
            _("Amounts in %(currency)s have at most %(places)d decimal places.")
            % {"currency": currency, "places": minor_exponent(currency)}
        )
    if amount < limits.minimum:
        raise TopupRefused(
            _("The minimum top-up is %(amount)s %(currency)s.")
            % {"amount": limits.minimum.amount.quantize(quantum(currency)), "currency": currency}
        )
    if amount > limits.maximum:
        raise TopupRefused(
            _("The maximum top-up is %(amount)s %(currency)s.")
            % {"amount": limits.maximum.amount.quantize(quantum(currency)), "currency": currency}
        )


def bonus_tiers_active(currency: str | None = None) -> list[BonusTier]:
    now = timezone.now()
    tiers = BonusTier.objects.filter(is_active=True, starts_at__lte=now).filter(
        Q(ends_at__isnull=True) | Q(ends_at__gt=now)
    )
    if currency:
        tiers = tiers.filter(currency=currency)
    return list(tiers.order_by("currency", "min_amount", "pk"))


def tier_bonus(tier: BonusTier, amount: Money) -> Money:
    """The tier's bonus on `amount`, rounded down to the currency's minor unit."""
    currency = str(amount.currency)
    if tier.percent is not None:
        value = (amount.amount * tier.percent / 100).quantize(quantum(currency), ROUND_DOWN)
    else:
        value = tier.fixed_bonus or Decimal(0)
    return Money(value, currency)


def topup_bonus(amount: Money) -> tuple[BonusTier | None, Money]:
    """The most generous active tier `amount` reaches, and its bonus (zero when none)."""
    best: tuple[BonusTier | None, Money] = (None, Money(0, amount.currency))
    for tier in bonus_tiers_active(str(amount.currency)):
        if amount.amount >= tier.min_amount:
            bonus = tier_bonus(tier, amount)
            if bonus > best[1]:
                best = (tier, bonus)
    return best


def topup_start(
    *,
    customer: "User",
    amount: Money,
    method: str,
    request_token: UUID,
    return_url: Callable[[Payment], str],
    cancel_url: str,
    webhook_url: str,
) -> Payment:
    """Open a top-up payment at the gateway; the same `request_token` gives back the same payment.

    No lock is held while the gateway is called: the payment is committed first, then sent,
    then moved to pending with a guarded update.
    """
    topup_amount_check(amount)
    if method not in checkout_methods():
        raise TopupRefused(_("This payment method is not available."))
    gateway = checkout_gateway()
    payment = _topup_create(
        customer=customer,
        amount=amount,
        method=method,
        gateway=gateway.name,
        request_token=request_token,
    )
    if payment is None:
        # A double submit: the first request made the payment.
        payment = Payment.objects.get(customer=customer, request_token=request_token)
    return payment_checkout_open(
        payment=payment,
        gateway=gateway,
        return_url=return_url(payment),
        cancel_url=cancel_url,
        webhook_url=webhook_url,
    )


@transaction.atomic(durable=True)
def counter_topup_record(
    *,
    customer: "User",
    amount: Money,
    method: str,
    reference: str,
    actor: "User",
    request_token: UUID,
) -> Payment:
    """Staff took cash at the counter or saw a bank transfer: the wallet is credited at once
    (cash on hand or bank against the wallet), bonus tiers included."""
    if method not in COUNTER_METHODS:
        raise TopupRefused(_("Choose cash or bank transfer."))
    topup_amount_check(amount)
    existing = Payment.objects.filter(customer=customer, request_token=request_token).first()
    if existing is not None:
        return existing
    payment = _topup_create(
        customer=customer,
        amount=amount,
        method=method,
        gateway=Payment.Gateway.COUNTER,
        request_token=request_token,
        reference=reference.strip(),
        recorded_by=actor,
    )
    if payment is None:
        # A double submit ran alongside and committed first: our insert waited on its row,
        # and it recorded (and captured) the payment.
        return Payment.objects.get(customer=customer, request_token=request_token)
    return payment_capture(payment_id=payment.pk)


def _topup_create(
    *,
    customer: "User",
    amount: Money,
    method: str,
    gateway: str,
    request_token: UUID,
    **fields: Any,
) -> Payment | None:
    """A new top-up payment with the bonus of the best live tier; None when `request_token`
    already made one (a double submit)."""
    tier, bonus = topup_bonus(amount)
    try:
        with transaction.atomic():
            return Payment.objects.create(
                customer=customer,
                purpose=Payment.Purpose.WALLET_TOPUP,
                amount=amount.amount,
                bonus=bonus.amount,
                bonus_tier=tier,
                currency=str(amount.currency),
                method=method,
                gateway=gateway,
                request_token=request_token,
                **fields,
            )
    except IntegrityError:
        return None
