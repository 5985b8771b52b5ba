"""Stripe Checkout at the HTTP boundary: what the gateway sends to open the payment page, and
what a top-up keeps of the answer. Stripe's HTTP is stood in for (StripeHTTP) and answers with
Stripe's own example Checkout Session; nothing leaves the machine."""

import uuid
from decimal import Decimal

import pytest
from django.utils import timezone
from djmoney.money import Money

from billing.exceptions import PaymentError
from billing.gateways import GatewayError, gateway_get
from billing.gateways.stripe import CHECKOUT_LIFETIME
from billing.models import GatewayEvent, JournalEntry, Payment
from billing.services.topups import topup_start
from billing.services.wallets import wallet_get
from tests.billing.payment_support import payment_make
from tests.billing.stripe_support import API_KEY, WEBHOOK_SECRET, StripeHTTP, example
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
Status = Payment.Status
SITE = "https://shop.example"


@pytest.fixture(autouse=True)
def stripe_on(settings):
    settings.STRIPE_SECRET_KEY = API_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = ""  # Stripe's own address: the stand-in answers before it


@pytest.fixture
def http(monkeypatch):
    return StripeHTTP(monkeypatch)


def start(customer, amount="12.34", currency="USD", method="card"):
    return topup_start(
        customer=customer,
        amount=Money(Decimal(amount), currency),
        method=method,
        request_token=uuid.uuid4(),
        return_url=lambda p: f"{SITE}/wallet/topups/{p.public_id}/",
        cancel_url=f"{SITE}/wallet/topup/",
        webhook_url=f"{SITE}/pay/webhooks/stripe/",
    )


def checkout(payment):
    return gateway_get("stripe").checkout_start(
        payment=payment,
        return_url=f"{SITE}/wallet/topups/{payment.public_id}/",
        cancel_url=f"{SITE}/wallet/topup/",
        webhook_url=f"{SITE}/pay/webhooks/stripe/",
    )


def test_card_top_up_opens_a_checkout_session_and_keeps_its_page(http, customer):
    payment = start(customer)

    [create_customer] = http.to("/v1/customers")
    [session] = http.to("/v1/checkout/sessions")
    public_id = str(payment.public_id)
    assert session.method == "post"
    assert session.url == "https://api.stripe.com/v1/checkout/sessions"
    assert session.headers["Authorization"] == f"Bearer {API_KEY}"
    assert session.idempotency_key == f"simdesk-payment-{public_id}-checkout"
    expires_at = int((payment.created_at + CHECKOUT_LIFETIME).timestamp())
    assert session.form == {
        "mode": "payment",
        "allowed_payment_method_types[0]": "card",
        "payment_method_options[card][setup_future_usage]": "off_session",
        "line_items[0][quantity]": "1",
        "line_items[0][price_data][currency]": "usd",
        "line_items[0][price_data][unit_amount]": "1234",
        "line_items[0][price_data][product_data][name]": "Wallet top-up",
        "customer": "cus_QXg1o8vcGmoR32",
        "client_reference_id": public_id,
        "metadata[payment]": public_id,
        "payment_intent_data[metadata][payment]": public_id,
        "success_url": f"{SITE}/wallet/topups/{public_id}/",
        "cancel_url": f"{SITE}/wallet/topup/",
        "expires_at": str(expires_at),
        "locale": "en",
        "adaptive_pricing[enabled]": "false",
    }
    # Stripe keeps a page open for 30 minutes at least and 24 hours at most.
    now = timezone.now().timestamp()
    assert now + 30 * 60 < expires_at < now + 24 * 3600

    # The customer was created first, with an idempotency key of its own.
    assert http.sent.index(create_customer) < http.sent.index(session)
    assert create_customer.idempotency_key.startswith(f"simdesk-customer-{customer.pk}-")
    assert create_customer.form == {"email": customer.email, "metadata[user]": str(customer.pk)}

    page = example("checkout.session")
    assert payment.status == Status.PENDING
    assert payment.gateway == Payment.Gateway.STRIPE
    assert payment.redirect_url == page["url"]
    assert payment.gateway_session_id == page["id"]
    assert payment.gateway_payment_id == page["payment_intent"]
    assert payment.gateway_customer_id == "cus_QXg1o8vcGmoR32"
    assert payment.failure_message == ""


@pytest.mark.parametrize(
    ("method", "options"),
    [
        ("alipay", {}),
        ("wechat_pay", {"payment_method_options[wechat_pay][client]": "web"}),
        ("card", {"payment_method_options[card][setup_future_usage]": "off_session"}),
    ],
)
def test_each_method_asks_checkout_for_that_method_only(http, customer, method, options):
    payment = start(customer, method=method)

    [session] = http.to("/v1/checkout/sessions")
    assert session.under("allowed_payment_method_types") == {
        "allowed_payment_method_types[0]": method
    }
    # Only a card is saved for auto-renewal.
    assert session.under("payment_method_options") == options
    assert payment.method == method
    assert payment.status == Status.PENDING


def test_yen_have_no_minor_unit_and_a_bonus_is_described(http, customer):
    payment = payment_make(
        customer, "500", "JPY", bonus="25", gateway="stripe", status=Status.CREATED
    )

    result = checkout(payment)

    [session] = http.to("/v1/checkout/sessions")
    assert session.form["line_items[0][price_data][unit_amount]"] == "500"
    assert session.form["line_items[0][price_data][currency]"] == "jpy"
    description = session.form["line_items[0][price_data][product_data][description]"]
    assert description == "Includes a bonus of 25 JPY: 525 JPY is added to your wallet."
    assert result.session_id == example("checkout.session")["id"]
    assert result.customer_id == "cus_QXg1o8vcGmoR32"


def test_the_page_speaks_the_customers_language(http):
    payment = start(UserFactory(preferred_language="zh-hans"))

    [session] = http.to("/v1/checkout/sessions")
    assert session.form["locale"] == "zh"
    assert payment.status == Status.PENDING


def test_a_customer_known_from_an_earlier_payment_is_not_created_again(http, customer):
    first = start(customer)
    second = start(customer, amount="20.00")

    assert len(http.to("/v1/customers")) == 1
    first_page, second_page = http.to("/v1/checkout/sessions")
    assert second_page.form["customer"] == first_page.form["customer"] == "cus_QXg1o8vcGmoR32"
    assert second.gateway_customer_id == first.gateway_customer_id
    assert second_page.idempotency_key == f"simdesk-payment-{second.public_id}-checkout"
    assert second_page.idempotency_key != first_page.idempotency_key


def test_a_payment_that_knows_its_customer_creates_none(http, customer):
    payment = payment_make(
        customer, "10.00", gateway="stripe", status=Status.CREATED, gateway_customer_id="cus_known"
    )

    checkout(payment)

    assert http.to("/v1/customers") == []
    [session] = http.to("/v1/checkout/sessions")
    assert session.form["customer"] == "cus_known"


@pytest.mark.parametrize(
    ("status", "error", "shown"),
    [
        (
            400,
            {
                "type": "invalid_request_error",
                "code": "parameter_invalid_integer",
                "message": "Invalid integer: abc",
            },
            "InvalidRequestError, parameter_invalid_integer, Invalid integer: abc",
        ),
        (
            401,
            {
                "type": "invalid_request_error",
                "message": f"Invalid API Key provided: {API_KEY[:8]}****{API_KEY[-4:]}",
            },
            "AuthenticationError",
        ),
    ],
)
def test_stripe_refusing_the_page_fails_the_payment_and_writes_nothing_else(
    http, customer, status, error, shown
):
    http.refuse("post", "/v1/checkout/sessions", status, **error)

    with pytest.raises(PaymentError):
        start(customer)

    payment = Payment.objects.get(customer=customer)
    assert payment.status == Status.FAILED
    assert payment.failure_message.startswith("Stripe could not open the payment page")
    assert shown in payment.failure_message
    assert "request req_test_" in payment.failure_message
    assert "sk_" not in payment.failure_message  # not even a masked key
    assert (payment.redirect_url, payment.gateway_session_id, payment.gateway_payment_id) == (
        "",
        "",
        "",
    )
    assert len(http.to("/v1/checkout/sessions")) == 1  # a refusal is not retried
    assert not GatewayEvent.objects.exists()
    assert not JournalEntry.objects.exists()
    assert wallet_get(user=customer, currency="USD").balance == 0


def test_a_customer_stripe_refuses_fails_the_payment_before_any_page(http, customer):
    http.refuse("post", "/v1/customers", 400, type="invalid_request_error", message="Invalid email")

    with pytest.raises(PaymentError):
        start(customer)

    assert http.to("/v1/checkout/sessions") == []
    payment = Payment.objects.get(customer=customer)
    assert payment.status == Status.FAILED
    assert "Stripe could not create the customer" in payment.failure_message


def test_a_method_checkout_does_not_take_is_refused_before_stripe_is_asked(http, customer):
    payment = payment_make(customer, gateway="stripe", status=Status.CREATED)
    payment.method = Payment.Method.CASH

    with pytest.raises(GatewayError):
        checkout(payment)

    assert http.sent == []


# --- Looking up a page whose payment has no PaymentIntent yet ----------------------------


def page_payment(http, customer, **session):
    payment = start(customer)
    http.sessions[payment.gateway_session_id].update(session)
    Payment.objects.filter(pk=payment.pk).update(gateway_payment_id="")
    payment.refresh_from_db()
    return payment


def test_lookup_of_an_open_page_is_pending(http, customer):
    payment = page_payment(http, customer, status="open", payment_status="unpaid")

    update = gateway_get("stripe").payment_lookup(payment=payment)

    [lookup] = [s for s in http.sent if s.method == "get"]
    assert lookup.path == f"/v1/checkout/sessions/{payment.gateway_session_id}"
    assert lookup.form == {"expand[0]": "payment_intent.latest_charge"}
    assert (update.status, update.reference) == ("pending", str(payment.public_id))


def test_lookup_of_an_expired_page_cancels(http, customer):
    payment = page_payment(http, customer, status="expired", payment_intent=None)

    update = gateway_get("stripe").payment_lookup(payment=payment)

    assert update.status == "canceled"
    assert "expired" in update.failure_message


def test_lookup_of_a_paid_page_succeeds_with_its_amount(http, customer):
    payment = page_payment(
        http, customer, status="complete", payment_status="paid", payment_intent="pi_test_paid"
    )

    update = gateway_get("stripe").payment_lookup(payment=payment)

    assert update.status == "succeeded"
    assert update.amount == Money(Decimal("12.34"), "USD")
    assert update.gateway_payment_id == "pi_test_paid"


def test_lookup_of_a_paid_page_reads_its_expanded_payment_intent(http, customer):
    intent = example("payment_intent")
    intent.update(
        id="pi_test_expanded",
        status="succeeded",
        amount=1234,
        amount_received=1234,
        currency="usd",
        setup_future_usage="off_session",
        payment_method="pm_test_saved",
        customer="cus_QXg1o8vcGmoR32",
        metadata={},
        latest_charge=None,
    )
    payment = page_payment(
        http, customer, status="complete", payment_status="paid", payment_intent=intent
    )

    update = gateway_get("stripe").payment_lookup(payment=payment)

    assert update.status == "succeeded"
    assert update.reference == str(payment.public_id)
    assert update.gateway_payment_id == "pi_test_expanded"
    assert update.method_id == "pm_test_saved"  # the card saved for auto-renewal


def test_lookup_of_a_payment_stripe_never_saw_cancels_it(http, customer):
    payment = payment_make(customer, gateway="stripe", status=Status.CREATED)

    update = gateway_get("stripe").payment_lookup(payment=payment)

    assert update.status == "canceled"
    assert update.failure_message
    assert http.sent == []


def test_a_gateway_error_names_no_secret(http, customer):
    http.refuse(
        "get", "/v1/payment_intents/pi_x", 401, type="invalid_request_error", message=API_KEY
    )
    payment = payment_make(customer, gateway="stripe", gateway_payment_id="pi_x")

    with pytest.raises(GatewayError) as raised:
        gateway_get("stripe").payment_lookup(payment=payment)

    assert API_KEY not in str(raised.value)
