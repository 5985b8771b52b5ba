"""Payment gateways behind one interface (`base.Gateway`): Stripe when a secret key is set,
the local sandbox otherwise. Store counter and bank transfer need no gateway."""

from functools import cache

from django.conf import settings

from billing.gateways.base import (
    Checkout,
    Gateway,
    GatewayError,
    GatewayEventData,
    GatewayTransaction,
    PaymentUpdate,
    Refund,
    WebhookInvalid,
)

__all__ = [
    "Checkout",
    "Gateway",
    "GatewayError",
    "GatewayEventData",
    "GatewayTransaction",
    "PaymentUpdate",
    "Refund",
    "UnknownGateway",
    "WebhookInvalid",
    "checkout_gateway",
    "checkout_methods",
    "gateway_get",
]

STRIPE, SANDBOX = "stripe", "sandbox"
STRIPE_METHODS = ["card", "alipay", "wechat_pay"]
SANDBOX_METHODS = ["sandbox"]


class UnknownGateway(LookupError):
    pass


def stripe_enabled() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def gateway_get(name: str) -> Gateway:
    if name == STRIPE and stripe_enabled():
        return _stripe()
    if name == SANDBOX:
        return _sandbox()
    raise UnknownGateway(name)


def checkout_gateway() -> Gateway:
    """The gateway that takes payments with the customer present."""
    return gateway_get(STRIPE if stripe_enabled() else SANDBOX)


def checkout_methods() -> list[str]:
    """The Payment.Method values a customer can choose now."""
    return STRIPE_METHODS if stripe_enabled() else SANDBOX_METHODS


@cache
def _sandbox() -> Gateway:
    from billing.gateways.sandbox import SandboxGateway

    return SandboxGateway()


def _stripe() -> Gateway:
    return _stripe_for(
        settings.STRIPE_SECRET_KEY, settings.STRIPE_WEBHOOK_SECRET, settings.STRIPE_API_BASE
    )


@cache
def _stripe_for(api_key: str, webhook_secret: str, api_base: str) -> Gateway:
    # One client per configuration, so its HTTP connections are reused between calls.
    from billing.gateways.stripe import StripeGateway

    return StripeGateway(api_key=api_key, webhook_secret=webhook_secret, api_base=api_base)
