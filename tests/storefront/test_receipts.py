"""Receipts: an order's (seller, lines, coupon, tax, payment method, refunds) and a top-up's,
with the same seller block; only for what was paid, only for its owner; in both languages."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from billing.gateways import PaymentUpdate
from billing.models import Coupon, Order, Payment, Refund
from billing.services.orders import LineRequest, order_cancel, order_pay_wallet, order_place
from billing.services.payments import payment_update_apply
from tests.billing.order_support import funded_customer, plan_for_sale
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SELLER = {
    "name": "Simdesk eSIM Ltd",
    "address": "1 Harbour Road\nWan Chai, Hong Kong",
    "tax_id": "HK-12345678",
    "email": "billing@simdesk.example",
    "website": "",
}


@pytest.fixture(autouse=True)
def seller(settings):
    settings.SIMDESK_SELLER = SELLER


@pytest.fixture
def plan():
    return plan_for_sale(price="12.00", stock=3, code="jp-5gb", name="Japan 5 GB")


def page_text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def receipt(order) -> str:
    return f"/orders/{order.public_id}/receipt/"


def placed(customer, plan, *, quantity=1, coupon_code="") -> Order:
    return order_place(
        customer=customer,
        currency="USD",
        lines=[LineRequest(kind="esim", plan=plan, quantity=quantity)],
        coupon_code=coupon_code,
    )


def assert_seller(text: str) -> None:
    assert "Simdesk eSIM Ltd" in text
    assert "1 Harbour Road<br>Wan Chai, Hong Kong" in text
    assert "Tax ID: HK-12345678" in text
    assert "billing@simdesk.example" in text


def test_a_wallet_paid_order_has_a_full_receipt_with_the_tax_line(client, plan, settings):
    settings.SIMDESK_TAX = {"label": "VAT", "rate": "20"}
    Coupon.objects.create(code="TEN", kind=Coupon.Kind.PERCENT, percent=Decimal("10"))
    customer = funded_customer("50.00", email="traveller@example.com")
    order = order_pay_wallet(order=placed(customer, plan, quantity=2, coupon_code="TEN"))
    client.force_login(customer)

    response = client.get(receipt(order))

    assert response.status_code == 200
    text = page_text(response)
    assert_seller(text)
    assert f'data-testid="receipt-number">{order.number}' in text
    assert "traveller@example.com" in text
    assert 'data-testid="receipt-method">Wallet' in text
    line = re.search(r'<tr data-testid="order-line">(.*?)</tr>', text).group(1)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", line)
    assert [re.sub(r"<[^>]+>", "", c).strip() for c in cells] == [
        "Japan 5 GB",
        "2",
        "12.00 USD",
        "−2.40 USD",
        "21.60 USD",
    ]
    assert "coupon TEN" in text
    assert 'data-testid="order-discount">−2.40 USD' in text
    assert 'data-testid="order-total">21.60 USD' in text
    # 21.60 includes 20% VAT: 21.60 - 21.60 / 1.2 = 3.60.
    assert "incl. VAT 20%" in text
    assert 'data-testid="order-tax">3.60 USD' in text


def test_no_tax_line_when_no_tax_is_configured(client, plan, settings):
    settings.SIMDESK_TAX = {"label": "", "rate": ""}
    customer = funded_customer("50.00")
    order = order_pay_wallet(order=placed(customer, plan))
    client.force_login(customer)

    text = page_text(client.get(receipt(order)))

    assert "incl." not in text
    assert 'data-testid="order-tax"' not in text


def test_a_gateway_paid_order_names_the_method_and_the_payments_receipt_number(
    client, plan, django_capture_on_commit_callbacks
):
    customer = funded_customer("0")
    order = placed(customer, plan)
    payment = Payment.objects.create(
        customer=customer,
        purpose=Payment.Purpose.ORDER,
        order=order,
        amount=order.total,
        currency="USD",
        method=Payment.Method.ALIPAY,
        gateway=Payment.Gateway.SANDBOX,
        status=Payment.Status.PENDING,
    )
    with django_capture_on_commit_callbacks(execute=True):
        payment_update_apply(
            payment=payment, update=PaymentUpdate(status="succeeded", amount=payment.amount_money)
        )
    order.refresh_from_db()
    assert order.payment == payment
    client.force_login(customer)

    text = page_text(client.get(receipt(order)))

    assert "Alipay" in text
    assert f"Payment {payment.receipt_number}" in text


def test_refunds_appear_on_the_receipt(client, plan):
    customer = funded_customer("50.00")
    order = order_pay_wallet(order=placed(customer, plan))
    Order.objects.filter(pk=order.pk).update(
        refunded_amount=Decimal("12.00"), status=Order.Status.REFUNDED
    )
    refund = Refund.objects.create(
        order=order,
        amount=Decimal("12.00"),
        currency="USD",
        destination=Refund.Destination.WALLET,
        status=Refund.Status.COMPLETED,
    )
    client.force_login(customer)

    text = page_text(client.get(receipt(order)))

    assert 'data-testid="receipt-refunded">12.00 USD' in text
    assert refund.number in text and "Refunded" in text


def test_unpaid_and_canceled_orders_have_no_receipt(client, plan):
    customer = funded_customer("0")
    pending = placed(customer, plan)
    canceled = order_cancel(order_id=placed(customer, plan).pk)
    assert canceled.status == Order.Status.CANCELED
    client.force_login(customer)

    assert client.get(receipt(pending)).status_code == 404
    assert client.get(receipt(canceled)).status_code == 404
    assert "Receipt" not in page_text(client.get("/orders/")).split("<tbody>")[1]


def test_another_customers_receipt_is_a_404(client, plan):
    order = order_pay_wallet(order=placed(funded_customer("50.00"), plan))
    client.force_login(UserFactory())
    assert client.get(receipt(order)).status_code == 404


def test_the_receipt_reads_in_chinese(client, plan):
    customer = funded_customer("50.00")
    order = order_pay_wallet(order=placed(customer, plan))
    client.force_login(customer)
    client.post(reverse("accounts:language-set"), {"language": "zh-hans", "next": "/"})

    response = client.get(receipt(order))

    text = page_text(response)
    assert response.status_code == 200
    assert '<html lang="zh-hans">' in text
    assert "收据编号" in text
    assert "税号：HK-12345678" in text
    assert_seller(text.replace("税号：", "Tax ID: "))


def test_the_top_up_receipt_has_the_same_seller_block(client):
    customer = UserFactory()
    payment = Payment.objects.create(
        customer=customer,
        purpose=Payment.Purpose.WALLET_TOPUP,
        amount=Decimal("50.00"),
        currency="USD",
        method=Payment.Method.SANDBOX,
        gateway=Payment.Gateway.SANDBOX,
        status=Payment.Status.PENDING,
    )
    payment_update_apply(
        payment=payment, update=PaymentUpdate(status="succeeded", amount=payment.amount_money)
    )
    client.force_login(customer)

    response = client.get(f"/wallet/topups/{payment.public_id}/receipt/")

    assert response.status_code == 200
    text = page_text(response)
    assert_seller(text)
    assert payment.receipt_number in text
