"""Paying an order through the sandbox gateway: its signed events come back through our
webhook, the capture pays and fulfils the order, and money for an order that no longer
needs it goes to the wallet."""

import uuid
from decimal import Decimal

import pytest
from django.urls import reverse

from billing.exceptions import OrderRefused, PaymentError
from billing.gateways.sandbox import sandbox_decline, sandbox_pay
from billing.models import JournalEntry, LedgerAccount, Order, OrderLine, Payment, SandboxCharge
from billing.services.orders import (
    LineRequest,
    order_cancel,
    order_pay_wallet,
    order_payment_start,
    order_place,
)
from billing.services.wallets import wallet_get
from catalog.models import EsimProfile
from tests.billing.conftest import balance_of
from tests.billing.order_support import (
    entry_postings,
    funded_customer,
    plan_for_sale,
    sandbox_events_to,
)

pytestmark = pytest.mark.django_db
Purpose = LedgerAccount.Purpose
Status = Order.Status


@pytest.fixture
def events(client, monkeypatch):
    """The sandbox's events, delivered to our webhook through the test client."""
    return sandbox_events_to(client, monkeypatch)


def place(customer, plan, quantity: int = 1) -> Order:
    return order_place(
        customer=customer,
        currency="USD",
        lines=[LineRequest(kind=OrderLine.Kind.ESIM, plan=plan, quantity=quantity)],
    )


def start(order: Order, token: uuid.UUID | None = None) -> Payment:
    return order_payment_start(
        order=order,
        method=Payment.Method.SANDBOX,
        request_token=token or uuid.uuid4(),
        return_url=lambda payment: f"/orders/{order.public_id}/paid/{payment.public_id}/",
        cancel_url=f"/orders/{order.public_id}/",
        webhook_url="http://testserver" + reverse("billing:webhook", args=["sandbox"]),
    )


def charge_token(payment: Payment) -> str:
    return SandboxCharge.objects.get(reference=str(payment.public_id)).token


def test_starting_a_payment_opens_the_sandbox_page():
    plan = plan_for_sale(price="12.00")
    order = place(funded_customer("0"), plan)
    token = uuid.uuid4()

    payment = start(order, token)

    assert payment.status == Payment.Status.PENDING
    assert payment.redirect_url.startswith("/pay/sandbox/")
    assert (payment.purpose, payment.order, payment.amount, payment.currency) == (
        Payment.Purpose.ORDER,
        order,
        Decimal("12.00"),
        "USD",
    )
    # The same token (a double submit) gives back the same payment.
    assert start(order, token).pk == payment.pk
    assert Payment.objects.count() == 1
    order.refresh_from_db()
    assert order.status == Status.PENDING_PAYMENT


def test_an_unknown_method_is_refused():
    order = place(funded_customer("0"), plan_for_sale())
    with pytest.raises(PaymentError):
        order_payment_start(
            order=order,
            method=Payment.Method.CASH,
            request_token=uuid.uuid4(),
            return_url=lambda p: "/",
            cancel_url="/",
            webhook_url="/",
        )
    assert not Payment.objects.exists()


def test_the_captured_payment_pays_and_fulfils_the_order(
    events, django_capture_on_commit_callbacks, mailoutbox
):
    plan = plan_for_sale(price="12.00", stock=2)
    customer = funded_customer("0")
    order = place(customer, plan)
    payment = start(order)

    with django_capture_on_commit_callbacks(execute=True):
        sandbox_pay(token=charge_token(payment))

    assert events, "the sandbox sent no event"
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    key = f"payment:{payment.pk}:capture"
    assert JournalEntry.objects.get(idempotency_key=key).kind == JournalEntry.Kind.PURCHASE
    assert entry_postings(key) == {
        Purpose.GATEWAY_CLEARING: Decimal("12.00"),
        Purpose.SALES_REVENUE: Decimal("-12.00"),
    }
    order.refresh_from_db()
    assert order.status == Status.FULFILLED
    assert (order.paid_with, order.payment) == (Order.PaidWith.GATEWAY, payment)
    profile = EsimProfile.objects.get(deliveries__line__order=order)
    assert (profile.owner, profile.status) == (customer, EsimProfile.Status.ASSIGNED)
    # The wallet was not touched, and the order's own email is the only one.
    assert balance_of(wallet_get(user=customer, currency="USD")) == 0
    assert [m.subject for m in mailoutbox] == [f"Your order {order.number} is ready"]
    # A second order payment cannot start once paid.
    with pytest.raises(OrderRefused, match="already paid"):
        start(order)


def test_an_event_delivered_twice_pays_once(events, client, django_capture_on_commit_callbacks):
    plan = plan_for_sale(price="12.00", stock=3)
    order = place(funded_customer("0"), plan)
    payment = start(order)
    with django_capture_on_commit_callbacks(execute=True):
        sandbox_pay(token=charge_token(payment))
    from tests.billing.payment_support import session_event

    payment.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        # Stripe-style redelivery with a new event id: applied, but posts nothing new.
        from tests.billing.payment_support import post_event

        assert post_event(client, session_event(payment)).status_code == 200
    assert JournalEntry.objects.filter(payment=payment).count() == 1
    assert EsimProfile.objects.filter(deliveries__line__order=order).count() == 1


def test_money_for_an_order_already_paid_from_the_wallet_goes_to_the_wallet(
    events, django_capture_on_commit_callbacks
):
    plan = plan_for_sale(price="12.00", stock=3)
    customer = funded_customer("20.00")
    order = place(customer, plan)
    payment = start(order)
    with django_capture_on_commit_callbacks(execute=True):
        order_pay_wallet(order=order)
    wallet = wallet_get(user=customer, currency="USD")
    assert balance_of(wallet) == Decimal("8.00")

    with django_capture_on_commit_callbacks(execute=True):
        sandbox_pay(token=charge_token(payment))

    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert entry_postings(f"payment:{payment.pk}:capture") == {
        Purpose.GATEWAY_CLEARING: Decimal("12.00"),
        Purpose.CUSTOMER_WALLET: Decimal("-12.00"),
    }
    assert balance_of(wallet) == Decimal("20.00")
    order.refresh_from_db()
    assert (order.status, order.paid_with, order.payment) == (
        Status.FULFILLED,
        Order.PaidWith.WALLET,
        None,
    )
    # Sold once.
    assert EsimProfile.objects.filter(owner=customer).count() == 1
    assert JournalEntry.objects.filter(idempotency_key__endswith=":sale").count() == 1


def test_a_late_payment_for_a_canceled_order_goes_to_the_wallet(
    events, django_capture_on_commit_callbacks
):
    plan = plan_for_sale(price="12.00")
    customer = funded_customer("0")
    order = place(customer, plan)
    payment = start(order)
    # The payment page was given up (the sweeper closed it), then the order was canceled.
    Payment.objects.filter(pk=payment.pk).update(status=Payment.Status.CANCELED)
    assert order_cancel(order_id=order.pk).status == Status.CANCELED

    with django_capture_on_commit_callbacks(execute=True):
        sandbox_pay(token=charge_token(payment))

    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert entry_postings(f"payment:{payment.pk}:capture") == {
        Purpose.GATEWAY_CLEARING: Decimal("12.00"),
        Purpose.CUSTOMER_WALLET: Decimal("-12.00"),
    }
    assert balance_of(wallet_get(user=customer, currency="USD")) == Decimal("12.00")
    order.refresh_from_db()
    assert order.status == Status.CANCELED
    assert not EsimProfile.objects.filter(owner=customer).exists()


def test_a_declined_payment_leaves_the_order_payable(events, django_capture_on_commit_callbacks):
    plan = plan_for_sale(price="12.00")
    customer = funded_customer("0")
    order = place(customer, plan)
    payment = start(order)

    with django_capture_on_commit_callbacks(execute=True):
        sandbox_decline(token=charge_token(payment))

    payment.refresh_from_db()
    assert payment.status == Payment.Status.FAILED
    order.refresh_from_db()
    assert order.status == Status.PENDING_PAYMENT
    assert not JournalEntry.objects.filter(payment=payment).exists()

    # Payable again: a new payment, and this one goes through.
    retry = start(order)
    assert retry.pk != payment.pk and retry.status == Payment.Status.PENDING
    with django_capture_on_commit_callbacks(execute=True):
        sandbox_pay(token=charge_token(retry))
    order.refresh_from_db()
    assert (order.status, order.payment) == (Status.FULFILLED, retry)
    assert balance_of(wallet_get(user=customer, currency="USD")) == 0


def test_a_free_order_is_not_sent_to_the_gateway():
    from billing.models import Coupon

    plan = plan_for_sale(price="5.00")
    Coupon.objects.create(code="FREE", kind=Coupon.Kind.PERCENT, percent=Decimal("100"))
    order = order_place(
        customer=funded_customer("0"),
        currency="USD",
        lines=[LineRequest(kind=OrderLine.Kind.ESIM, plan=plan)],
        coupon_code="free",
    )
    assert order.total == 0
    with pytest.raises(OrderRefused, match="free"):
        start(order)
    assert order_pay_wallet(order=order).status == Status.FULFILLED
