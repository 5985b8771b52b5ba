"""Stripe, the production gateway: Checkout (Stripe's hosted page, so no card data touches us)
with card, Alipay and WeChat Pay; a card saved for off-session auto-renewal; refunds; look-ups.

Every request that creates something carries an idempotency key derived from our own record,
so a retry (the library's, or ours after a timeout) never makes a second customer, page or
charge. Stripe refuses a key reused with other parameters, so the parameters of each keyed
request are derived from the same record too (the page's expiry from the payment's creation
time, not from the clock).
"""

import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import stripe
from django.utils import translation
from django.utils.translation import gettext as _
from djmoney.money import Money
from stripe.params import PaymentIntentCreateParams
from stripe.params.checkout import (
    SessionCreateParams,
    SessionCreateParamsLineItemPriceDataProductData,
    SessionCreateParamsPaymentMethodOptions,
)

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
from billing.gateways.signing import SIGNATURE_HEADER
from billing.gateways.stripe_events import (
    CANCELED,
    DECLINED_MESSAGE,
    FAILED,
    PENDING,
    SUCCEEDED,
    intent_update,
    session_update,
    stripe_event_parse,
)
from billing.models import Payment
from billing.money import from_minor_units, quantum, to_minor_units

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

# Stripe's shortest Checkout Session is 30 minutes from its creation; the margin covers clock
# skew and the time the request takes, or Stripe refuses the page.
CHECKOUT_LIFETIME = timedelta(minutes=30) + timedelta(minutes=2)
TIMEOUT_SECONDS = 30
# The library retries network failures and 409/5xx answers; the idempotency keys make it safe.
NETWORK_RETRIES = 2
# Checkout's page language from the customer's; anything else follows the browser.
CHECKOUT_LOCALES = {"en": "en", "zh-hans": "zh"}

# Our payment methods, as Checkout names them.
CHECKOUT_METHODS: dict[str, str] = {
    Payment.Method.CARD: "card",
    Payment.Method.ALIPAY: "alipay",
    Payment.Method.WECHAT_PAY: "wechat_pay",
}

ERROR_NO_SECRET = "the Stripe webhook secret is not configured"  # noqa: S105 (a message)
ERROR_EVENT = "the webhook body is not a Stripe event"
ERROR_NOT_CAPTURED = "this payment has no Stripe charge to refund"
ERROR_NO_REFERENCE = "Stripe never opened this payment."
ERROR_METHOD = "Stripe Checkout does not take payments by {method}"
ERROR_STRIPE = "Stripe could not {action} ({details})."
# Balance transactions and payouts are read in pages of this many.
PAGE_SIZE = 100
# Balance transaction types for a charge and a refund (Stripe's older and newer names).
CHARGE_TYPES = ("charge", "payment")
REFUND_TYPES = ("refund", "payment_refund")
# Payouts come from the Payouts API; their balance transactions would count them twice.
PAYOUT_STATUSES_GONE = ("failed", "canceled")
# Whatever looks like a key is cut out of Stripe's messages before they are shown or stored.
KEY_PATTERN = re.compile(r"\b(sk|rk|pk|whsec)_[A-Za-z0-9_*]+")


class StripeGateway(Gateway):
    name = "stripe"

    def __init__(
        self,
        *,
        api_key: str,
        webhook_secret: str,
        api_base: str = "",
        http_client: stripe.HTTPClient | None = None,
    ) -> None:
        self._webhook_secret = webhook_secret
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else None,
            max_network_retries=NETWORK_RETRIES,
            http_client=http_client or stripe.RequestsClient(timeout=TIMEOUT_SECONDS),
        )

    # --- The customer present: Checkout ---------------------------------------------

    def checkout_start(
        self, *, payment: Payment, return_url: str, cancel_url: str, webhook_url: str
    ) -> Checkout:
        """A Checkout Session in payment mode for the payment's method. Stripe sends its events
        to the webhook endpoint configured in its dashboard, so `webhook_url` is not sent."""
        method = CHECKOUT_METHODS.get(payment.method)
        if method is None:
            raise GatewayError(ERROR_METHOD.format(method=payment.method))
        customer_id = self._customer_for(payment)
        public_id = str(payment.public_id)
        metadata = {"payment": public_id}
        options: SessionCreateParamsPaymentMethodOptions = {}
        if method == "card":
            # Saved on the Stripe customer for auto-renewal charges with the customer away.
            options["card"] = {"setup_future_usage": "off_session"}
        elif method == "wechat_pay":
            options["wechat_pay"] = {"client": "web"}
        language = payment.customer.preferred_language
        with translation.override(language):
            product: SessionCreateParamsLineItemPriceDataProductData = {
                "name": str(payment.get_purpose_display())
            }
            if payment.bonus:
                product["description"] = _(
                    "Includes a bonus of %(bonus)s %(currency)s: "
                    "%(credited)s %(currency)s is added to your wallet."
                ) % {
                    "bonus": payment.bonus.quantize(quantum(payment.currency)),
                    "credited": payment.credited_money.amount.quantize(quantum(payment.currency)),
                    "currency": payment.currency,
                }
        params: SessionCreateParams = {
            "mode": "payment",
            # Since API version 2026-09-30 Checkout takes `allowed_payment_method_types`
            # (a filter on the methods the dashboard enables), no longer `payment_method_types`.
            "allowed_payment_method_types": [method],
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": payment.currency.lower(),
                        "unit_amount": to_minor_units(payment.amount_money),
                        "product_data": product,
                    },
                }
            ],
            "customer": customer_id,
            "client_reference_id": public_id,
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
            "success_url": return_url,
            "cancel_url": cancel_url,
            "expires_at": int((payment.created_at + CHECKOUT_LIFETIME).timestamp()),
            "locale": CHECKOUT_LOCALES.get(language, "auto"),
            # Charged in the payment's currency, as the ledger posts it, never converted.
            "adaptive_pricing": {"enabled": False},
        }
        if options:
            params["payment_method_options"] = options
        try:
            session = self._client.v1.checkout.sessions.create(
                params, {"idempotency_key": f"simdesk-payment-{public_id}-checkout"}
            )
        except stripe.StripeError as exc:
            raise _gateway_error("open the payment page", exc) from exc
        return Checkout(
            redirect_url=session.url or "",
            session_id=session.id,
            payment_id=_id(session.payment_intent),
            customer_id=customer_id,
        )

    def _customer_for(self, payment: Payment) -> str:
        """The customer's Stripe Customer: the one we know of, or a new one."""
        if payment.gateway_customer_id:
            return payment.gateway_customer_id
        known = (
            Payment.objects.filter(customer_id=payment.customer_id, gateway=self.name)
            .exclude(gateway_customer_id="")
            .order_by("-created_at", "-id")
            .values_list("gateway_customer_id", flat=True)
            .first()
        )
        if known:
            return known
        user = payment.customer
        # The key covers the e-mail address too: Stripe refuses a key reused with other
        # parameters, and an address changed between two attempts must not fail the payment.
        digest = hashlib.sha256(user.email.lower().encode()).hexdigest()[:12]
        try:
            customer = self._client.v1.customers.create(
                {"email": user.email, "metadata": {"user": str(user.pk)}},
                {"idempotency_key": f"simdesk-customer-{user.pk}-{digest}"},
            )
        except stripe.StripeError as exc:
            raise _gateway_error("create the customer", exc) from exc
        return customer.id

    # --- Webhooks ---------------------------------------------------------------------

    def webhook_verify(self, *, body: bytes, headers: Mapping[str, str]) -> GatewayEventData:
        if not self._webhook_secret:
            raise WebhookInvalid(ERROR_NO_SECRET)
        try:
            event = stripe.Webhook.construct_event(
                body, headers.get(SIGNATURE_HEADER, ""), self._webhook_secret
            )
            payload = event.to_dict()
        except stripe.SignatureVerificationError as exc:
            raise WebhookInvalid(str(exc)) from exc
        except (ValueError, TypeError, AttributeError) as exc:  # not UTF-8, not JSON, no object
            raise WebhookInvalid(ERROR_EVENT) from exc
        if not payload.get("id") or not payload.get("type"):
            raise WebhookInvalid(ERROR_EVENT)
        return GatewayEventData(event_id=payload["id"], type=payload["type"], payload=payload)

    def event_parse(self, payload: dict[str, Any]) -> PaymentUpdate | None:
        return stripe_event_parse(payload)

    # --- The sweeper's question -------------------------------------------------------

    def payment_lookup(self, *, payment: Payment) -> PaymentUpdate:
        reference = str(payment.public_id)
        try:
            if payment.gateway_payment_id:
                intent = self._client.v1.payment_intents.retrieve(
                    payment.gateway_payment_id, {"expand": ["latest_charge"]}
                )
                return _with_reference(intent_update(intent.to_dict()), reference)
            if payment.gateway_session_id:
                session = self._client.v1.checkout.sessions.retrieve(
                    payment.gateway_session_id, {"expand": ["payment_intent.latest_charge"]}
                )
                return _session_lookup(session.to_dict(), reference)
        except stripe.StripeError as exc:
            raise _gateway_error("look up the payment", exc) from exc
        return PaymentUpdate(
            reference=reference, status=CANCELED, failure_message=ERROR_NO_REFERENCE
        )

    # --- Money back, and the customer away ----------------------------------------------

    def refund_create(self, *, payment: Payment, amount: Money, idempotency_key: str) -> Refund:
        if not payment.gateway_payment_id:
            raise GatewayError(ERROR_NOT_CAPTURED)
        try:
            refund = self._client.v1.refunds.create(
                {
                    "payment_intent": payment.gateway_payment_id,
                    "amount": to_minor_units(amount),
                    "metadata": {"payment": str(payment.public_id)},
                },
                {"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise _gateway_error("refund the payment", exc) from exc
        return Refund(
            refund_id=refund.id,
            status=refund.status or "",
            amount=from_minor_units(refund.amount, refund.currency.upper()),
        )

    def saved_method_charge(
        self, *, payment: Payment, customer: "User", customer_id: str, method_id: str
    ) -> PaymentUpdate:
        """A declined card is an answer (the payment failed), not an error."""
        reference = str(payment.public_id)
        params: PaymentIntentCreateParams = {
            "amount": to_minor_units(payment.amount_money),
            "currency": payment.currency.lower(),
            "customer": customer_id,
            "payment_method": method_id,
            "off_session": True,
            "confirm": True,
            "metadata": {"payment": reference},
        }
        try:
            intent = self._client.v1.payment_intents.create(
                params, {"idempotency_key": f"simdesk-payment-{reference}-charge"}
            )
        except stripe.CardError as exc:
            body = exc.json_body if isinstance(exc.json_body, dict) else {}
            error = body.get("error") or {}
            return PaymentUpdate(
                reference=reference,
                gateway_payment_id=_id(error.get("payment_intent")),
                status=FAILED,
                failure_message=_scrub(exc.user_message or DECLINED_MESSAGE)[:500],
                customer_id=customer_id,
            )
        except stripe.StripeError as exc:
            raise _gateway_error("charge the saved payment method", exc) from exc
        return _with_reference(intent_update(intent.to_dict()), reference)

    # --- Reconciliation -------------------------------------------------------------------

    def transactions_list(self, *, start: datetime, end: datetime) -> list[GatewayTransaction]:
        """Charges and refunds from the balance history, and payouts from the Payouts API.

        Both lists come newest first and are read without a `created` filter (localstripe,
        which the tests use, refuses one): balance transactions stop at the first one older
        than `start`; payouts are few (one a day at most), so they are read to the end, and each
        counts on its arrival date (the day the bank sees it)."""
        try:
            found = self._balance_transactions(start, end)
            found += self._payouts(start, end)
        except stripe.StripeError as exc:
            raise _gateway_error("list the balance transactions", exc) from exc
        return found

    def _balance_transactions(self, start: datetime, end: datetime) -> list[GatewayTransaction]:
        found: list[GatewayTransaction] = []
        after = ""
        while True:
            params: dict[str, Any] = {"limit": PAGE_SIZE, "expand": ["data.source"]}
            if after:
                params["starting_after"] = after
            page = self._client.v1.balance_transactions.list(params)  # type: ignore[arg-type]
            rows = [row.to_dict() for row in page.data]
            for row in rows:
                created = _time(row["created"])
                if created < start:
                    return found
                if created < end:
                    transaction = _balance_transaction(row, created)
                    if transaction is not None:
                        found.append(transaction)
            if not page.has_more or not rows:
                return found
            after = rows[-1]["id"]

    def _payouts(self, start: datetime, end: datetime) -> list[GatewayTransaction]:
        found: list[GatewayTransaction] = []
        after = ""
        while True:
            params: dict[str, Any] = {"limit": PAGE_SIZE}
            if after:
                params["starting_after"] = after
            page = self._client.v1.payouts.list(params)  # type: ignore[arg-type]
            rows = [row.to_dict() for row in page.data]
            for row in rows:
                # A payout counts on the day it reaches the bank, as finance record it.
                created = _time(row.get("arrival_date") or row["created"])
                if start <= created < end and row.get("status") not in PAYOUT_STATUSES_GONE:
                    currency = str(row["currency"]).upper()
                    found.append(
                        GatewayTransaction(
                            id=row["id"],
                            kind="payout",
                            amount=-from_minor_units(int(row["amount"]), currency),
                            fee=Money(0, currency),
                            created=created,
                        )
                    )
            if not page.has_more or not rows:
                return found
            after = rows[-1]["id"]


def _time(timestamp: Any) -> datetime:
    return datetime.fromtimestamp(int(timestamp), tz=UTC)


def _balance_transaction(row: dict[str, Any], created: datetime) -> GatewayTransaction | None:
    """A charge or a refund, keyed by its PaymentIntent and refund ids; None for the rest
    (payouts, which come from the Payouts API, transfers, adjustments)."""
    kind = row.get("type")
    source = row.get("source")
    source = source if isinstance(source, dict) else {"id": source}
    currency = str(row["currency"]).upper()
    amount = from_minor_units(int(row["amount"]), currency)
    fee = from_minor_units(int(row.get("fee") or 0), currency)
    if kind in CHARGE_TYPES:
        return GatewayTransaction(
            id=row["id"],
            kind="payment",
            payment_ref=_id(source.get("payment_intent")) or _id(source.get("id")),
            amount=amount,
            fee=fee,
            created=created,
        )
    if kind in REFUND_TYPES:
        return GatewayTransaction(
            id=row["id"],
            kind="refund",
            payment_ref=_id(source.get("payment_intent")),
            refund_id=_id(source.get("id")),
            amount=amount,
            fee=fee,
            created=created,
        )
    return None


def _session_lookup(session: dict[str, Any], reference: str) -> PaymentUpdate:
    """Where a Checkout Session stands: its PaymentIntent speaks once the page is complete."""
    status = session.get("status")
    intent = session.get("payment_intent")
    if status == "expired":
        return _with_reference(session_update(session, CANCELED), reference)
    if status == "complete" and isinstance(intent, dict):
        return _with_reference(intent_update(intent), reference)
    paid = status == "complete" and session.get("payment_status") == "paid"
    return _with_reference(session_update(session, SUCCEEDED if paid else PENDING), reference)


def _with_reference(update: PaymentUpdate, reference: str) -> PaymentUpdate:
    return update if update.reference else replace(update, reference=reference)


def _id(value: Any) -> str:
    """Stripe fields hold an id, or the expanded object, or nothing."""
    if isinstance(value, stripe.StripeObject):
        return str(getattr(value, "id", "") or "")
    if isinstance(value, Mapping):
        return str(value.get("id") or "")
    return str(value or "")


def _scrub(message: str) -> str:
    return KEY_PATTERN.sub("[key]", message)


def _gateway_error(action: str, exc: stripe.StripeError) -> GatewayError:
    """A message safe for staff: the kind of error, Stripe's code and request id, and Stripe's
    own words only where they are about the request (never an authentication error's)."""
    details = [type(exc).__name__]
    if exc.code:
        details.append(str(exc.code))
    if isinstance(exc, stripe.CardError | stripe.InvalidRequestError) and exc.user_message:
        details.append(_scrub(str(exc.user_message)))
    if exc.request_id:
        details.append(f"request {exc.request_id}")
    logger.warning("Stripe could not %s: %s", action, ", ".join(details))
    return GatewayError(ERROR_STRIPE.format(action=action, details=", ".join(details)))
