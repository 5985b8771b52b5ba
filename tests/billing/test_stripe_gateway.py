"""The Stripe gateway against localstripe (a fake Stripe API that `make test` starts on
loopback), through the official stripe library: customers, test cards, off-session charges,
refunds, look-ups, and webhooks signed by localstripe and delivered to the live test server.
Only Checkout Session creation, which localstripe lacks, is stood in for (StripeHTTP)."""

import contextlib
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TypeVar

import pytest
import stripe
from djmoney.money import Money

from billing.gateways import GatewayError, WebhookInvalid, gateway_get
from billing.gateways.signing import SIGNATURE_HEADER
from billing.models import GatewayEvent, Payment
from billing.money import to_minor_units
from billing.services.payments import payment_refresh
from billing.services.topups import topup_start
from billing.services.wallets import wallet_get
from tests.billing.payment_support import payment_make
from tests.billing.stripe_support import (
    API_KEY,
    CARD_DECLINED,
    CARD_OK,
    LOCALSTRIPE,
    WEBHOOK_SECRET,
    StripeHTTP,
    card_method,
    localstripe_client,
    needs_localstripe,
    webhook_disable,
    webhook_register,
)

Status = Payment.Status
# localstripe sends an event a second after the change; a little more covers a slow machine.
DELIVERY_DEADLINE = 15.0


@pytest.fixture
def stripe_on(settings):
    settings.STRIPE_SECRET_KEY = API_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = LOCALSTRIPE


@pytest.fixture
def gateway(stripe_on):
    return gateway_get("stripe")


@pytest.fixture
def ls() -> stripe.StripeClient:
    return localstripe_client()


def stripe_payment(customer, amount="20.00", **fields) -> Payment:
    return payment_make(customer, amount, gateway=Payment.Gateway.STRIPE, **fields)


def intent_confirmed(ls: stripe.StripeClient, payment: Payment, card: str) -> str:
    """What the customer does on Stripe's page: a PaymentIntent for our payment (its metadata as
    Checkout sets it from payment_intent_data), paid with `card`. Returns the intent's id."""
    intent = ls.v1.payment_intents.create(
        {
            "amount": to_minor_units(payment.amount_money),
            "currency": payment.currency.lower(),
            "payment_method": card_method(ls, card),
            "metadata": {"payment": str(payment.public_id)},
        }
    )
    with contextlib.suppress(stripe.CardError):  # declined: the intent keeps the error
        ls.v1.payment_intents.confirm(intent.id)
    return intent.id


T = TypeVar("T")


def wait_for(check: Callable[[], T | None], what: str) -> T:
    deadline = time.monotonic() + DELIVERY_DEADLINE
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {DELIVERY_DEADLINE} s")
        time.sleep(0.05)


# --- Customers, through the checkout path -------------------------------------------------


@needs_localstripe
@pytest.mark.django_db
def test_checkout_creates_the_stripe_customer_once(stripe_on, monkeypatch, ls, customer):
    http = StripeHTTP(monkeypatch, passthrough=True)  # only Checkout Sessions are stood in for

    def start(amount: str) -> Payment:
        return topup_start(
            customer=customer,
            amount=Money(Decimal(amount), "USD"),
            method=Payment.Method.CARD,
            request_token=uuid.uuid4(),
            return_url=lambda p: f"https://shop.example/wallet/topups/{p.public_id}/",
            cancel_url="https://shop.example/wallet/topup/",
            webhook_url="https://shop.example/pay/webhooks/stripe/",
        )

    first = start("10.00")
    second = start("25.00")

    stripe_customer = ls.v1.customers.retrieve(first.gateway_customer_id)
    assert stripe_customer.email == customer.email
    assert stripe_customer.metadata["user"] == str(customer.pk)
    assert second.gateway_customer_id == first.gateway_customer_id
    assert len(http.to("/v1/customers")) == 1
    assert [s.form["customer"] for s in http.to("/v1/checkout/sessions")] == [
        first.gateway_customer_id
    ] * 2
    assert first.status == second.status == Status.PENDING


# --- Test cards and the sweeper's look-up ---------------------------------------------------


@needs_localstripe
@pytest.mark.django_db
def test_a_paid_card_is_found_by_the_lookup_and_credits_the_wallet(gateway, ls, customer):
    payment = stripe_payment(customer, "20.00")
    intent_id = intent_confirmed(ls, payment, CARD_OK)
    Payment.objects.filter(pk=payment.pk).update(gateway_payment_id=intent_id)
    payment.refresh_from_db()

    update = gateway.payment_lookup(payment=payment)

    assert update.status == "succeeded"
    assert update.reference == str(payment.public_id)
    assert update.gateway_payment_id == intent_id
    assert update.amount == Money(Decimal("20.00"), "USD")
    assert update.amount_refunded is None
    # The sweeper applies the same answer: the wallet gets the money once.
    payment = payment_refresh(payment_id=payment.pk)
    assert payment.status == Status.SUCCEEDED
    assert wallet_get(user=customer, currency="USD").balance == Decimal("20.00")


@needs_localstripe
@pytest.mark.django_db
def test_a_declined_card_is_found_by_the_lookup_and_fails_the_payment(gateway, ls, customer):
    payment = stripe_payment(customer, "20.00")
    intent_id = intent_confirmed(ls, payment, CARD_DECLINED)
    Payment.objects.filter(pk=payment.pk).update(gateway_payment_id=intent_id)
    payment.refresh_from_db()

    update = gateway.payment_lookup(payment=payment)

    assert (update.status, update.failure_message) == ("failed", "Your card was declined.")
    assert update.amount is None
    payment = payment_refresh(payment_id=payment.pk)
    assert payment.status == Status.FAILED
    assert payment.failure_message == "Your card was declined."
    assert wallet_get(user=customer, currency="USD").balance == 0


@needs_localstripe
@pytest.mark.django_db
def test_lookup_of_an_unknown_intent_is_a_gateway_error(gateway, customer):
    payment = stripe_payment(customer, gateway_payment_id="pi_simdesk_missing")

    with pytest.raises(GatewayError, match="look up the payment"):
        gateway.payment_lookup(payment=payment)


# --- Off-session charges of a saved card (auto-renewal) -------------------------------------


@needs_localstripe
@pytest.mark.django_db
def test_a_saved_card_is_charged_with_the_customer_away(gateway, ls, customer):
    stripe_customer = ls.v1.customers.create({"email": customer.email})
    method_id = card_method(ls, CARD_OK, stripe_customer.id)
    payment = stripe_payment(customer, "15.50", status=Status.CREATED)

    update = gateway.saved_method_charge(
        payment=payment, customer=customer, customer_id=stripe_customer.id, method_id=method_id
    )

    assert update.status == "succeeded"
    assert update.amount == Money(Decimal("15.50"), "USD")
    assert update.reference == str(payment.public_id)
    intent = ls.v1.payment_intents.retrieve(update.gateway_payment_id)
    assert (intent.customer, intent.payment_method) == (stripe_customer.id, method_id)
    assert (intent.amount, intent.currency) == (1550, "usd")
    assert intent.metadata["payment"] == str(payment.public_id)


@needs_localstripe
@pytest.mark.django_db
def test_a_declined_saved_card_is_a_failed_payment_not_an_error(gateway, ls, customer):
    stripe_customer = ls.v1.customers.create({"email": customer.email})
    method_id = card_method(ls, CARD_DECLINED, stripe_customer.id)
    payment = stripe_payment(customer, "15.50", status=Status.CREATED)

    update = gateway.saved_method_charge(
        payment=payment, customer=customer, customer_id=stripe_customer.id, method_id=method_id
    )

    assert update.status == "failed"
    assert update.failure_message == "Your card was declined."
    assert update.reference == str(payment.public_id)
    assert update.amount is None


# --- Refunds --------------------------------------------------------------------------------


@needs_localstripe
@pytest.mark.django_db
def test_a_partial_refund_shows_in_the_lookup(gateway, ls, customer):
    payment = stripe_payment(customer, "20.00")
    intent_id = intent_confirmed(ls, payment, CARD_OK)
    Payment.objects.filter(pk=payment.pk).update(gateway_payment_id=intent_id)
    payment = payment_refresh(payment_id=payment.pk)
    assert payment.status == Status.SUCCEEDED

    refund = gateway.refund_create(
        payment=payment,
        amount=Money(Decimal("7.25"), "USD"),
        idempotency_key=f"refund-{payment.pk}",
    )

    assert refund.refund_id.startswith("re_")
    assert refund.status == "succeeded"
    assert refund.amount == Money(Decimal("7.25"), "USD")
    update = gateway.payment_lookup(payment=payment)
    assert update.status == "succeeded"
    assert update.amount_refunded == Money(Decimal("7.25"), "USD")


@pytest.mark.django_db
def test_a_payment_without_a_charge_cannot_be_refunded(stripe_on, customer):
    payment = stripe_payment(customer)

    with pytest.raises(GatewayError):
        gateway_get("stripe").refund_create(
            payment=payment, amount=Money(1, "USD"), idempotency_key="refund-none"
        )


# --- Webhooks: signed by localstripe, verified with stripe.Webhook ---------------------------


class Catcher(BaseHTTPRequestHandler):
    """Keeps what localstripe posts: the raw body and the signature header."""

    deliveries: list[tuple[bytes, dict[str, str]]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.deliveries.append((body, dict(self.headers.items())))  # type: ignore[attr-defined]
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def catcher() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Catcher)
    server.deliveries = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def webhook_id() -> Iterator[str]:
    webhook_id = f"simdesk_{secrets.token_hex(4)}"
    yield webhook_id
    webhook_disable(webhook_id)


@needs_localstripe
def test_a_localstripe_signed_event_verifies_with_stripe_webhook(
    stripe_on, catcher, webhook_id, ls
):
    host, port = catcher.server_address[:2]
    webhook_register(webhook_id, f"http://{host}:{port}/", WEBHOOK_SECRET, ["customer.created"])
    created = ls.v1.customers.create({"email": "signed@example.com"})

    def delivered():
        for body, headers in catcher.deliveries:
            if json.loads(body)["data"]["object"]["id"] == created.id:
                return body, headers
        return None

    body, headers = wait_for(delivered, "customer.created delivery")
    gateway = gateway_get("stripe")

    event = gateway.webhook_verify(body=body, headers=headers)

    assert event.type == "customer.created"
    assert event.event_id.startswith("evt_")
    assert event.payload["data"]["object"]["email"] == "signed@example.com"
    assert isinstance(event.payload["data"], dict)
    assert gateway.event_parse(event.payload) is None  # not about a payment
    with pytest.raises(WebhookInvalid):
        gateway.webhook_verify(body=body.replace(b"signed@", b"forged@"), headers=headers)
    other = gateway_get("sandbox")  # the same scheme with another secret
    with pytest.raises(WebhookInvalid):
        other.webhook_verify(body=body, headers=headers)


def test_webhook_verify_refuses_what_stripe_did_not_sign(stripe_on, settings):
    gateway = gateway_get("stripe")
    event = {"id": "evt_test_1", "object": "event", "type": "payment_intent.succeeded"}
    body = json.dumps(event)

    def header(secret=WEBHOOK_SECRET, timestamp=None, payload=body):
        value = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp)
        return {SIGNATURE_HEADER: value}

    assert gateway.webhook_verify(body=body.encode(), headers=header()).event_id == "evt_test_1"
    refused = [
        (body, {}),  # no signature
        (body, header(secret="whsec_other")),
        (body, header(timestamp=int(time.time()) - 301)),  # older than Stripe's tolerance
        ("[1]", header(payload="[1]")),  # signed, but not an event
        ('{"object": "event"}', header(payload='{"object": "event"}')),
    ]
    for payload, headers in refused:
        with pytest.raises(WebhookInvalid):
            gateway.webhook_verify(body=payload.encode(), headers=headers)
    settings.STRIPE_WEBHOOK_SECRET = ""
    with pytest.raises(WebhookInvalid):
        gateway_get("stripe").webhook_verify(body=body.encode(), headers=header())


@needs_localstripe
@pytest.mark.django_db(transaction=True)
def test_a_paid_intent_reaches_the_live_webhook_and_credits_the_wallet(
    stripe_on, live_server, webhook_id, ls, customer
):
    url = live_server.url.replace("localhost", "127.0.0.1") + "/pay/webhooks/stripe/"
    webhook_register(webhook_id, url, WEBHOOK_SECRET, ["payment_intent.succeeded"])
    payment = stripe_payment(customer, "20.00")

    intent_id = intent_confirmed(ls, payment, CARD_OK)

    event = wait_for(
        lambda: GatewayEvent.objects.filter(
            payment=payment, status=GatewayEvent.Status.PROCESSED
        ).first(),
        "processed payment_intent.succeeded event",
    )
    assert event.gateway == "stripe"
    assert event.type == "payment_intent.succeeded"
    assert event.event_id.startswith("evt_")
    assert event.payload["data"]["object"]["client_secret"] == "[redacted]"
    payment.refresh_from_db()
    assert payment.status == Status.SUCCEEDED
    assert payment.gateway_payment_id == intent_id
    assert wallet_get(user=customer, currency="USD").balance == Decimal("20.00")
