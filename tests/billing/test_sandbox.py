"""The sandbox gateway end to end over HTTP: its page, its signed events to our webhook, the
delayed confirmation, refunds, saved methods, and the sweeper finding a lost webhook."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from djmoney.money import Money

from billing.gateways import gateway_get
from billing.gateways.sandbox import DECLINING_METHOD
from billing.models import GatewayEvent, Payment, SandboxCharge
from billing.services.payments import payment_refresh
from billing.services.topups import topup_start
from billing.services.wallets import wallet_get
from billing.tasks import payments_pending_sweep_task
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
Status = Payment.Status


def start(live_server, customer, amount="100.00", currency="USD", token=None):
    import uuid

    return topup_start(
        customer=customer,
        amount=Money(Decimal(amount), currency),
        method=Payment.Method.SANDBOX,
        request_token=token or uuid.uuid4(),
        return_url=lambda p: f"{live_server.url}/wallet/topups/{p.public_id}/",
        cancel_url=f"{live_server.url}/wallet/topup/",
        webhook_url=f"{live_server.url}{reverse('billing:webhook', args=['sandbox'])}",
    )


def press(client, payment, action):
    page = payment.redirect_url
    assert client.get(page).status_code == 200
    return client.post(page, {"action": action})


def balance(customer, currency="USD"):
    return wallet_get(user=customer, currency=currency).balance


def test_pay_sends_a_signed_event_that_credits_the_wallet(live_server, client):
    customer = UserFactory()
    payment = start(live_server, customer)
    assert payment.status == Status.PENDING
    page = client.get(payment.redirect_url)
    assert b"Test gateway" in page.content
    assert b"100.00 USD" in page.content
    response = press(client, payment, "pay")
    assert response.status_code == 302
    assert response["Location"].endswith(f"/wallet/topups/{payment.public_id}/")
    payment.refresh_from_db()
    assert payment.status == Status.SUCCEEDED
    assert payment.gateway_method_id.startswith("sbx_pm_")  # saved for auto-renewal
    assert balance(customer) == Decimal("100.00")
    event = GatewayEvent.objects.get(payment=payment)
    assert (event.type, event.status) == ("checkout.session.completed", "processed")
    # The page cannot be used twice.
    press(client, payment, "pay")
    assert balance(customer) == Decimal("100.00")


def test_decline_fails_the_payment_and_credits_nothing(live_server, client):
    customer = UserFactory()
    payment = start(live_server, customer)
    press(client, payment, "decline")
    payment.refresh_from_db()
    assert payment.status == Status.FAILED
    assert "declined" in payment.failure_message
    assert balance(customer) == 0


@override_settings(SANDBOX_DELAY_SECONDS=0)
def test_pay_later_is_pending_first_then_confirmed_by_a_second_event(live_server, client):
    customer = UserFactory()
    payment = start(live_server, customer, "50.00")
    press(client, payment, "later")
    payment.refresh_from_db()
    # Eager Celery settles at once (the countdown only applies on a real worker).
    assert payment.status == Status.SUCCEEDED
    types = set(GatewayEvent.objects.filter(payment=payment).values_list("type", flat=True))
    assert types == {"checkout.session.completed", "checkout.session.async_payment_succeeded"}
    assert balance(customer) == Decimal("50.00")


def test_a_lost_webhook_is_found_by_the_sweeper(live_server, client):
    """The payment succeeds at the gateway, no event arrives, the sweeper credits it."""
    customer = UserFactory()
    # The sandbox posts its events to a port where nothing listens: every delivery is lost.
    with override_settings(SANDBOX_WEBHOOK_URL="http://127.0.0.1:9/pay/webhooks/sandbox/"):
        payment = start(live_server, customer, "70.00")
        charge = SandboxCharge.objects.get(reference=str(payment.public_id))
        charge.status = SandboxCharge.Status.SUCCEEDED
        charge.method_ref = "sbx_pm_lost"
        charge.save()
    assert not GatewayEvent.objects.exists()
    payment.refresh_from_db()
    assert payment.status == Status.PENDING
    # Not yet due: the sweeper leaves payments younger than five minutes alone.
    assert payments_pending_sweep_task.run() == 0
    Payment.objects.filter(pk=payment.pk).update(created_at=timezone.now() - timedelta(minutes=6))
    assert payments_pending_sweep_task.run() == 1
    payment.refresh_from_db()
    assert payment.status == Status.SUCCEEDED
    assert balance(customer) == Decimal("70.00")
    # A second sweep finds nothing to do and credits nothing more.
    assert payments_pending_sweep_task.run() == 0
    assert balance(customer) == Decimal("70.00")


def test_the_sweeper_closes_a_page_the_customer_abandoned(live_server):
    customer = UserFactory()
    payment = start(live_server, customer)
    SandboxCharge.objects.filter(reference=str(payment.public_id)).update(
        created_at=timezone.now() - timedelta(hours=1)
    )
    payment_refresh(payment_id=payment.pk)
    payment.refresh_from_db()
    assert payment.status == Status.CANCELED
    assert balance(customer) == 0


def test_a_double_submit_opens_one_payment_and_one_page(live_server):
    import uuid

    customer = UserFactory()
    token = uuid.uuid4()
    first = start(live_server, customer, token=token)
    second = start(live_server, customer, token=token)
    assert first.pk == second.pk
    assert first.redirect_url == second.redirect_url
    assert SandboxCharge.objects.count() == 1


def test_refunds_are_partial_and_never_exceed_the_charge(live_server, client):
    from billing.gateways import GatewayError

    customer = UserFactory()
    payment = start(live_server, customer, "40.00")
    press(client, payment, "pay")
    payment.refresh_from_db()
    gateway = gateway_get("sandbox")
    gateway.refund_create(payment=payment, amount=Money("15.00", "USD"), idempotency_key="r1")
    with pytest.raises(GatewayError):
        gateway.refund_create(payment=payment, amount=Money("25.01", "USD"), idempotency_key="r2")
    payment.refresh_from_db()
    # The refund's event came back through the webhook.
    assert (payment.status, payment.refunded_amount) == (
        Status.PARTIALLY_REFUNDED,
        Decimal("15.00"),
    )
    assert gateway.payment_lookup(payment=payment).amount_refunded == Money("15.00", "USD")


def test_a_saved_method_is_charged_off_session_or_declines(live_server):
    customer = UserFactory()
    gateway = gateway_get("sandbox")
    ok = Payment.objects.create(
        customer=customer,
        purpose="wallet_topup",
        amount=Decimal("9.00"),
        currency="USD",
        method="card",
        gateway="sandbox",
    )
    update = gateway.saved_method_charge(
        payment=ok, customer=customer, customer_id="sbx_cus_1", method_id="sbx_pm_good"
    )
    assert update.status == "succeeded"
    assert update.amount == Money("9.00", "USD")
    declined = Payment.objects.create(
        customer=customer,
        purpose="wallet_topup",
        amount=Decimal("9.00"),
        currency="USD",
        method="card",
        gateway="sandbox",
    )
    update = gateway.saved_method_charge(
        payment=declined, customer=customer, customer_id="sbx_cus_1", method_id=DECLINING_METHOD
    )
    assert update.status == "failed"
    assert update.failure_message
