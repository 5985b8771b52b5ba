"""The top-up pages: the form and its limits, starting a payment at the sandbox gateway, the
return page and its status endpoint, and the receipt."""

import re
import uuid
from decimal import Decimal

import pytest
from django.urls import reverse
from djmoney.money import Money

from billing.gateways import GatewayError, PaymentUpdate
from billing.gateways.sandbox import SandboxGateway
from billing.models import BonusTier, Payment, SandboxCharge
from billing.selectors.ledger import wallet_balance
from billing.services.payments import payment_update_apply
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

TOPUP = "/wallet/topup/"


@pytest.fixture
def customer():
    return UserFactory(email="traveller@example.com")


@pytest.fixture
def signed_in(client, customer):
    client.force_login(customer)
    return client


def topup_post(client, amount="100", currency="USD", *, token=None, preset="other", **extra):
    data = {
        "currency": currency,
        "preset": preset,
        "custom_amount": amount,
        "method": "sandbox",
        "request_token": str(token or uuid.uuid4()),
        **extra,
    }
    return client.post(TOPUP, data)


def topup_started(client, amount="100", currency="USD") -> Payment:
    response = topup_post(client, amount, currency)
    assert response.status_code == 302, response.content.decode()
    return Payment.objects.get()


def capture(payment: Payment) -> Payment:
    """The gateway's word that the money arrived, applied as a webhook would."""
    return payment_update_apply(
        payment=payment, update=PaymentUpdate(status="succeeded", amount=payment.amount_money)
    )


def page_text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


# --- The form ----------------------------------------------------------------------------


def test_topup_page_states_limits_presets_methods_and_bonus(signed_in):
    BonusTier.objects.create(name="Big spender", currency="CNY", min_amount=500, percent=5)
    BonusTier.objects.create(name="Dollar deal", currency="USD", min_amount=50, percent=10)

    response = signed_in.get(TOPUP, {"currency": "CNY"})

    assert response.status_code == 200
    text = page_text(response)
    assert "Minimum 10.00 CNY, maximum 3,000.00 CNY" in text
    for preset in ("50", "100", "200", "500"):
        assert f'name="preset" value="{preset}"' in text
    assert "500.00 CNY" in text
    assert 'value="sandbox"' in text and "Test gateway" in text
    assert "Big spender: +5% when you top up 500.00 CNY or more" in text
    assert "Dollar deal" not in text  # another currency's tier
    assert (
        'data-tiers="[{&quot;min&quot;: &quot;500.00&quot;, &quot;percent&quot;: &quot;5.00&quot;'
        in text
    )
    assert 'data-places="2"' in text
    token = re.search(r'name="request_token" value="([0-9a-f-]{36})"', text)
    assert token is not None
    assert signed_in.get(TOPUP).content.decode().count(token.group(1)) == 0  # one per page


def test_topup_page_defaults_to_the_preferred_currency(client):
    client.force_login(UserFactory(preferred_currency="HKD"))
    text = page_text(client.get(TOPUP))
    assert '<option value="HKD" selected>' in text
    assert 'name="currency" value="HKD"' in text
    assert "Minimum 50.00 HKD, maximum 4,000.00 HKD" in text


def test_topup_page_falls_back_when_the_preferred_currency_is_not_offered(client):
    client.force_login(UserFactory(preferred_currency="JPY"))
    text = page_text(client.get(TOPUP, {"currency": "XXX"}))
    assert 'name="currency" value="USD"' in text
    assert "Minimum 5.00 USD, maximum 500.00 USD" in text


@pytest.mark.parametrize(
    ("currency", "amount", "message"),
    [
        ("CNY", "9.99", "The minimum top-up is 10.00 CNY."),
        ("CNY", "3000.01", "The maximum top-up is 3000.00 CNY."),
        ("CNY", "10.005", "Amounts in CNY have at most 2 decimal places."),
        ("CNY", "-50", "The minimum top-up is 10.00 CNY."),
        ("USD", "ten", "Enter an amount such as 100 or 100.50."),
        ("USD", "", "Enter the amount you want to top up."),
        ("XXX", "100", "Top-ups in XXX are not offered."),
        ("JPY", "5000", "Top-ups in JPY are not offered."),
    ],
)
def test_refused_amounts_are_form_errors_and_start_no_payment(signed_in, currency, amount, message):
    response = topup_post(signed_in, amount, currency)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Payment.objects.exists()
    assert not SandboxCharge.objects.exists()


def test_a_preset_must_be_chosen_or_an_amount_entered(signed_in):
    response = topup_post(signed_in, "", preset="")
    assert "Choose an amount or enter another one." in response.content.decode()
    assert not Payment.objects.exists()


def test_a_preset_not_offered_for_the_currency_is_refused(signed_in):
    response = topup_post(signed_in, "", "USD", preset="1000")
    assert "Select a valid choice." in response.content.decode()
    assert not Payment.objects.exists()


def test_a_method_not_offered_is_refused(signed_in):
    response = topup_post(signed_in, "100", method="card")  # Stripe's: no key set
    assert "This payment method is not available." in response.content.decode()
    assert not Payment.objects.exists()


def test_a_missing_request_token_is_refused(signed_in):
    response = topup_post(signed_in, "100", request_token="")
    assert "This form has expired." in response.content.decode()
    assert not Payment.objects.exists()


# --- Starting the payment ---------------------------------------------------------------


def test_top_up_goes_to_the_sandbox_page(signed_in, customer):
    token = uuid.uuid4()

    response = topup_post(signed_in, "", "USD", preset="20", token=token)

    payment = Payment.objects.get()
    charge = SandboxCharge.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/pay/sandbox/{charge.token}/"
    assert payment.customer == customer
    assert payment.purpose == Payment.Purpose.WALLET_TOPUP
    assert payment.amount_money == Money("20.00", "USD")
    assert payment.bonus == 0
    assert payment.method == Payment.Method.SANDBOX
    assert payment.status == Payment.Status.PENDING
    assert payment.request_token == token
    assert charge.amount == Decimal("20.00")
    assert charge.return_url == f"http://testserver/wallet/topups/{payment.public_id}/"
    assert charge.webhook_url == "http://testserver/pay/webhooks/sandbox/"

    sandbox = signed_in.get(response["Location"])
    assert "Test gateway" in sandbox.content.decode()
    assert "20.00 USD" in sandbox.content.decode()


def test_the_bonus_is_the_services_and_the_best_tier_wins(signed_in):
    BonusTier.objects.create(name="Five", currency="CNY", min_amount=100, percent=5)
    best = BonusTier.objects.create(name="Fixed", currency="CNY", min_amount=300, fixed_bonus=20)
    BonusTier.objects.create(name="Elsewhere", currency="USD", min_amount=1, percent=50)

    payment = topup_started(signed_in, "333.33", "CNY")

    assert payment.bonus == Decimal("20.00")  # 5% would be 16.66
    assert payment.bonus_tier == best
    assert payment.credited_money == Money("353.33", "CNY")


def test_a_percentage_bonus_rounds_down(signed_in):
    BonusTier.objects.create(name="Five", currency="USD", min_amount=50, percent=5)

    payment = topup_started(signed_in, "99.99", "USD")

    assert payment.bonus == Decimal("4.99")


def test_a_rejected_form_shows_the_bonus_for_the_amount_posted(signed_in):
    BonusTier.objects.create(name="Five", currency="USD", min_amount=50, percent=5)

    response = topup_post(signed_in, "100", method="")

    text = page_text(response)
    assert "Choose how you want to pay." in text
    assert 'data-testid="preview-bonus">5.00 USD<' in text
    assert 'data-testid="preview-total">105.00 USD<' in text


def test_a_double_submission_makes_one_payment(signed_in):
    token = uuid.uuid4()

    first = topup_post(signed_in, "100", token=token)
    second = topup_post(signed_in, "100", token=token)

    assert Payment.objects.count() == 1
    assert SandboxCharge.objects.count() == 1
    assert first.status_code == second.status_code == 302
    assert second["Location"] == first["Location"]


def test_submitting_again_after_paying_shows_the_paid_top_up(signed_in):
    token = uuid.uuid4()
    topup_post(signed_in, "100", token=token)
    payment = capture(Payment.objects.get())

    again = topup_post(signed_in, "100", token=token)

    assert again.status_code == 302
    assert again["Location"] == f"/wallet/topups/{payment.public_id}/"
    assert Payment.objects.count() == 1
    assert wallet_balance(user=payment.customer, currency="USD") == Money("100.00", "USD")


def test_a_gateway_failure_is_a_form_error_and_charges_nothing(signed_in, monkeypatch):
    def refuse(self, **kwargs):
        raise GatewayError("connection refused")

    monkeypatch.setattr(SandboxGateway, "checkout_start", refuse)
    token = uuid.uuid4()

    response = topup_post(signed_in, "100", token=token)

    assert response.status_code == 200
    text = response.content.decode()
    assert "The payment could not be started. Nothing was charged; please try again." in text
    payment = Payment.objects.get()
    assert payment.status == Payment.Status.FAILED
    assert wallet_balance(user=payment.customer, currency="USD").amount == 0
    # The page comes back with a new token, so trying again starts a new payment.
    assert str(token) not in text
    assert re.search(r'name="request_token" value="[0-9a-f-]{36}"', text)


# --- The return page and its status ------------------------------------------------------


def test_return_page_waits_for_an_open_payment(signed_in):
    payment = topup_started(signed_in)

    response = signed_in.get(f"/wallet/topups/{payment.public_id}/")

    text = page_text(response)
    assert response.status_code == 200
    assert "Your payment is processing" in text
    assert 'class="spinner"' in text
    assert f'data-status-url="/wallet/topups/{payment.public_id}/status/"' in text
    assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in text


def test_return_page_shows_what_a_settled_top_up_credited(signed_in):
    BonusTier.objects.create(name="Five", currency="USD", min_amount=50, percent=5)
    payment = capture(topup_started(signed_in, "100"))

    response = signed_in.get(f"/wallet/topups/{payment.public_id}/")

    text = page_text(response)
    assert "Top-up complete" in text
    assert 'data-testid="topup-amount">100.00 USD<' in text
    assert 'data-testid="topup-bonus">5.00 USD<' in text
    assert 'data-testid="topup-total">105.00 USD<' in text
    assert 'data-testid="wallet-balance">105.00 USD<' in text
    assert "data-status-url" not in text
    assert "http-equiv" not in text


def test_return_page_says_a_declined_payment_charged_nothing(signed_in):
    payment = topup_started(signed_in, "50", "CNY")
    payment_update_apply(
        payment=payment,
        update=PaymentUpdate(status="failed", failure_message="The payment was declined."),
    )

    text = page_text(signed_in.get(f"/wallet/topups/{payment.public_id}/"))

    assert "Payment declined" in text
    assert "The payment was declined. You were not charged." in text
    assert 'href="/wallet/topup/?currency=CNY">Try again</a>' in text


def test_return_page_says_a_canceled_payment_charged_nothing(signed_in):
    payment = topup_started(signed_in)
    payment_update_apply(payment=payment, update=PaymentUpdate(status="canceled"))

    text = page_text(signed_in.get(f"/wallet/topups/{payment.public_id}/"))

    assert "The payment was canceled. You were not charged." in text
    assert "Try again" in text


def test_status_endpoint_follows_the_payment(signed_in):
    payment = topup_started(signed_in)
    url = reverse("storefront:topup-status", args=[payment.public_id])

    waiting = signed_in.get(url)
    capture(payment)
    settled = signed_in.get(url)

    assert waiting.json() == {"status": "pending", "label": "Processing", "final": False}
    assert waiting["Cache-Control"] == "no-store"
    assert settled.json() == {"status": "succeeded", "label": "Succeeded", "final": True}


@pytest.mark.parametrize("page", ["topup-detail", "topup-status", "topup-receipt"])
def test_another_customers_top_up_is_not_found(client, page):
    owner = UserFactory()
    client.force_login(owner)
    payment = capture(topup_started(client))
    client.force_login(UserFactory())

    assert client.get(reverse(f"storefront:{page}", args=[payment.public_id])).status_code == 404


@pytest.mark.parametrize("page", ["topup-detail", "topup-status", "topup-receipt"])
def test_an_unknown_top_up_is_not_found(signed_in, page):
    assert signed_in.get(reverse(f"storefront:{page}", args=[uuid.uuid4()])).status_code == 404


# --- The receipt -------------------------------------------------------------------------


def test_receipt_of_a_paid_top_up(signed_in):
    BonusTier.objects.create(name="Five", currency="USD", min_amount=50, percent=5)
    payment = capture(topup_started(signed_in, "100"))

    response = signed_in.get(f"/wallet/topups/{payment.public_id}/receipt/")

    text = page_text(response)
    assert response.status_code == 200
    assert "Simdesk eSIM" in text
    assert f'data-testid="receipt-number">{payment.receipt_number}<' in text
    assert "traveller@example.com" in text
    assert 'data-testid="receipt-amount">100.00 USD<' in text
    assert '5.00 USD <span class="helptext">Five</span>' in text
    assert 'data-testid="receipt-total">105.00 USD<' in text
    assert "Test gateway" in text and "Succeeded" in text
    assert "window.print()" in text
    assert "receipt-refunded" not in text


def test_receipt_shows_a_refund(signed_in):
    payment = capture(topup_started(signed_in, "100"))
    payment_update_apply(payment=payment, update=PaymentUpdate(amount_refunded=Money("40", "USD")))

    text = page_text(signed_in.get(f"/wallet/topups/{payment.public_id}/receipt/"))

    assert 'data-testid="receipt-refunded">40.00 USD<' in text
    assert "Partially refunded" in text


def test_no_receipt_for_an_unpaid_top_up(signed_in):
    payment = topup_started(signed_in)
    url = f"/wallet/topups/{payment.public_id}/receipt/"

    assert signed_in.get(url).status_code == 404
    payment_update_apply(payment=payment, update=PaymentUpdate(status="failed"))
    assert signed_in.get(url).status_code == 404


# --- Who may see the pages ------------------------------------------------------------------


@pytest.mark.parametrize("path", [TOPUP, "/wallet/topups/{id}/", "/wallet/topups/{id}/receipt/"])
def test_anonymous_visitors_are_sent_to_sign_in(client, path):
    response = client.get(path.format(id=uuid.uuid4()))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_anonymous_posts_start_no_payment(client):
    response = topup_post(client, "100")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not Payment.objects.exists()


def test_an_unverified_email_cannot_top_up(client):
    client.force_login(UserFactory(verified=False))

    response = topup_post(client, "100")

    assert "verify" in response.content.decode().lower()
    assert not Payment.objects.exists()
