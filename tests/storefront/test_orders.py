"""The order's page: paying from the wallet (and what a short wallet is offered), paying through
the sandbox gateway, what was delivered, the status endpoint, the order history, and another
customer's order being a 404 everywhere."""

import re
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from djmoney.money import Money

from billing.gateways.sandbox import sandbox_pay
from billing.models import Order, Payment, Refund, SandboxCharge
from billing.selectors.ledger import wallet_balance
from billing.services.orders import LineRequest, order_place
from billing.tasks import sandbox_event_deliver_task
from catalog.models import Bundle, EsimProfile
from tests.billing.order_support import funded_customer, plan_for_sale
from tests.billing.payment_support import post_event
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture
def plan():
    return plan_for_sale(price="12.50", stock=3, code="jp-5gb", name="Japan 5 GB")


def place(customer, plan, quantity=1, currency="USD") -> Order:
    return order_place(
        customer=customer,
        currency=currency,
        lines=[LineRequest(kind="esim", plan=plan, quantity=quantity)],
    )


def page_text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def detail(order) -> str:
    return f"/orders/{order.public_id}/"


# --- Paying from the wallet ------------------------------------------------------------------


def test_a_pending_order_shows_its_summary_balance_and_ways_to_pay(client, plan):
    customer = funded_customer("30.00")
    order = place(customer, plan, quantity=2)
    client.force_login(customer)

    response = client.get(detail(order))

    assert response.status_code == 200
    text = page_text(response)
    assert f"Order {order.number}" in text
    assert "Pending payment" in text
    assert "Japan 5 GB" in text
    assert 'data-testid="order-total">25.00 USD' in text
    assert 'data-testid="wallet-balance">30.00 USD' in text
    assert f'action="/orders/{order.public_id}/pay/wallet/"' in text
    assert f'action="/orders/{order.public_id}/pay/"' in text
    assert 'value="sandbox"' in text
    assert 'data-testid="shortfall"' not in text


def test_paying_from_the_wallet_delivers_and_emails_the_esim(
    client, plan, django_capture_on_commit_callbacks, mailoutbox
):
    customer = funded_customer("30.00")
    order = place(customer, plan)
    client.force_login(customer)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/orders/{order.public_id}/pay/wallet/")

    assert response.status_code == 302
    assert response["Location"] == detail(order)
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    assert order.paid_with == Order.PaidWith.WALLET
    assert wallet_balance(user=customer, currency="USD") == Money("17.50", "USD")
    profile = EsimProfile.objects.get(deliveries__line__order=order)
    assert (profile.status, profile.owner) == (EsimProfile.Status.ASSIGNED, customer)
    assert Bundle.objects.filter(profile=profile, plan=plan).count() == 1

    (message,) = mailoutbox
    assert message.to == [customer.email]
    code = profile.activation_code
    ios = f"https://esimsetup.apple.com/esim_qrcode_provisioning?carddata={code}"
    assert code in message.body and ios in message.body
    ((html, _mimetype),) = message.alternatives
    assert f'src="cid:qr-{profile.iccid}"' in html
    (image,) = [part for part in message.attachments if not isinstance(part, tuple)]
    assert image.get_content_type() == "image/png"
    assert image["Content-ID"] == f"<qr-{profile.iccid}>"

    text = page_text(client.get(detail(order)))
    assert "Fulfilled" in text
    assert f'href="/esims/{profile.iccid}/" data-testid="delivered-iccid">{profile.iccid}' in text
    assert f'href="/orders/{order.public_id}/receipt/"' in text
    assert "Pay from wallet" not in text

    # A second click does nothing more.
    client.post(f"/orders/{order.public_id}/pay/wallet/")
    assert wallet_balance(user=customer, currency="USD") == Money("17.50", "USD")
    assert EsimProfile.objects.filter(owner=customer).count() == 1


def test_a_short_wallet_shows_the_shortfall_and_two_offers_and_changes_nothing(client, plan):
    customer = funded_customer("10.00")
    order = place(customer, plan, quantity=2)  # 25.00
    client.force_login(customer)

    response = client.post(f"/orders/{order.public_id}/pay/wallet/")

    assert response.status_code == 200
    text = page_text(response)
    assert "Your wallet is 15.00 USD short of this order" in text
    assert 'href="/wallet/topup/?currency=USD&amp;amount=15.00"' in text
    assert "Top up 15.00 USD" in text
    assert "Pay by card / Alipay / WeChat Pay" in text
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT
    assert wallet_balance(user=customer, currency="USD") == Money("10.00", "USD")
    assert not EsimProfile.objects.filter(owner=customer).exists()


def test_a_small_shortfall_offers_at_least_the_top_up_minimum(client, plan):
    customer = funded_customer("11.00")
    order = place(customer, plan)  # 12.50: short by 1.50, the USD minimum is 5.00
    client.force_login(customer)

    text = page_text(client.post(f"/orders/{order.public_id}/pay/wallet/"))

    assert "Your wallet is 1.50 USD short" in text
    assert 'href="/wallet/topup/?currency=USD&amp;amount=5.00"' in text


def test_the_top_up_page_takes_the_offered_amount(client):
    client.force_login(UserFactory())

    text = page_text(client.get("/wallet/topup/", {"currency": "USD", "amount": "15.00"}))

    assert re.search(r'name="custom_amount" value="15.00"', text)
    assert re.search(r'name="preset" value="other"[^>]*checked', text)
    plain = page_text(client.get("/wallet/topup/", {"amount": "<b>"}))
    assert 'name="custom_amount" value=' not in plain


# --- Paying through the gateway --------------------------------------------------------------


@pytest.fixture
def webhook_through_client(client, monkeypatch):
    """The sandbox's events reach our webhook through the test client (no live server)."""

    def deliver(url, body):
        import json

        response = post_event(client, json.loads(body))
        assert response.status_code == 200

    monkeypatch.setattr(sandbox_event_deliver_task, "delay", deliver)


def test_paying_through_the_sandbox_fulfils_the_order(
    client, plan, webhook_through_client, django_capture_on_commit_callbacks, mailoutbox
):
    customer = funded_customer("0")
    order = place(customer, plan)
    client.force_login(customer)

    response = client.post(
        f"/orders/{order.public_id}/pay/",
        {"method": "sandbox", "request_token": str(uuid.uuid4())},
    )

    assert response.status_code == 302
    match = re.fullmatch(rf"/pay/sandbox/({UUID})/", response["Location"])
    assert match, response["Location"]
    payment = Payment.objects.get(order=order)
    assert (payment.purpose, payment.amount, payment.status) == (
        Payment.Purpose.ORDER,
        Decimal("12.50"),
        Payment.Status.PENDING,
    )
    charge = SandboxCharge.objects.get(token=match.group(1))
    assert charge.return_url == f"http://testserver/orders/{order.public_id}/"

    # While the gateway has not answered, the page waits and polls.
    waiting = page_text(client.get(detail(order)))
    assert f'data-status-url="/orders/{order.public_id}/status/"' in waiting
    status = client.get(f"/orders/{order.public_id}/status/").json()
    assert status == {"status": "pending_payment", "label": "Pending payment", "final": False}

    with django_capture_on_commit_callbacks(execute=True):
        sandbox_pay(token=match.group(1))

    order.refresh_from_db()
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert order.status == Order.Status.FULFILLED
    assert (order.paid_with, order.payment) == (Order.PaidWith.GATEWAY, payment)
    assert EsimProfile.objects.filter(owner=customer, deliveries__line__order=order).count() == 1
    assert len(mailoutbox) == 1
    assert client.get(f"/orders/{order.public_id}/status/").json() == {
        "status": "fulfilled",
        "label": "Fulfilled",
        "final": True,
    }
    # The wallet was never touched.
    assert wallet_balance(user=customer, currency="USD") == Money("0.00", "USD")


def test_an_unknown_payment_method_is_refused_on_the_page(client, plan):
    customer = funded_customer("0")
    order = place(customer, plan)
    client.force_login(customer)

    response = client.post(
        f"/orders/{order.public_id}/pay/", {"method": "bitcoin", "request_token": str(uuid.uuid4())}
    )

    assert response.status_code == 200
    assert "This payment method is not available." in page_text(response)
    assert not Payment.objects.exists()


def test_a_declined_payment_is_said_and_the_order_can_be_paid_again(client, plan):
    customer = funded_customer("0")
    order = place(customer, plan)
    Payment.objects.create(
        customer=customer,
        purpose=Payment.Purpose.ORDER,
        order=order,
        amount=order.total,
        currency="USD",
        method=Payment.Method.SANDBOX,
        gateway=Payment.Gateway.SANDBOX,
        status=Payment.Status.FAILED,
    )
    client.force_login(customer)

    text = page_text(client.get(detail(order)))

    assert "did not go through" in text
    assert "Pay from wallet" in text
    assert "data-status-url" not in text


# --- After payment ---------------------------------------------------------------------------


def test_an_order_awaiting_stock_says_what_happens_next(client, settings):
    settings.SIMDESK_AWAITING_STOCK_HOURS = 36
    empty = plan_for_sale(stock=0)
    customer = funded_customer("30.00")
    order = place(customer, empty)
    client.force_login(customer)
    client.post(f"/orders/{order.public_id}/pay/wallet/")
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_STOCK

    text = page_text(client.get(detail(order)))

    assert "Awaiting stock" in text
    assert (
        "We will deliver it as soon as stock arrives, or refund you automatically after 36 hours."
        in text
    )


def test_refunds_of_an_order_are_listed_with_their_status(client, plan):
    from tests.billing.order_support import bought_esim

    customer = funded_customer("30.00")
    order, profile = bought_esim(customer, plan)
    refund = Refund.objects.create(
        order=order, profile=profile, amount=Decimal("12.50"), currency="USD", requested_by=customer
    )
    client.force_login(customer)

    text = page_text(client.get(detail(order)))

    assert refund.number in text
    assert "Waiting for review" in text


# --- The history and other customers ---------------------------------------------------------


def test_the_order_history_lists_newest_first_twenty_a_page(client, plan):
    customer = funded_customer("0")
    orders = [place(customer, plan) for _ in range(21)]
    place(UserFactory(), plan)  # someone else's
    client.force_login(customer)

    first = client.get("/orders/")
    rows = re.findall(r'<tr data-testid="order-row">.*?</tr>', first.content.decode(), re.S)

    assert len(rows) == 20
    assert orders[-1].number in rows[0]
    assert "1 × Japan 5 GB" in rows[0]
    assert "12.50 USD" in rows[0]
    assert "Pending payment" in rows[0]
    second = client.get("/orders/", {"page": 2})
    assert orders[0].number in second.content.decode()
    assert second.content.decode().count('data-testid="order-row"') == 1


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("get", ""),
        ("get", "status/"),
        ("get", "receipt/"),
        ("post", "pay/wallet/"),
        ("post", "pay/"),
    ],
)
def test_another_customers_order_is_a_404_everywhere(client, plan, method, suffix):
    owner = funded_customer("30.00")
    order = place(owner, plan)
    client.force_login(funded_customer("30.00"))

    response = getattr(client, method)(
        f"/orders/{order.public_id}/{suffix}",
        {"method": "sandbox", "request_token": str(uuid.uuid4())},
    )

    assert response.status_code == 404
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT
    assert not Payment.objects.exists()


def test_order_pages_need_a_signed_in_customer(client, plan):
    order = place(funded_customer("0"), plan)
    response = client.get(detail(order))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


# --- Queries ---------------------------------------------------------------------------------


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def _paid_order(customer, plans) -> Order:
    from billing.services.orders import order_pay_wallet

    order = order_place(
        customer=customer,
        currency="USD",
        lines=[LineRequest(kind="esim", plan=p, quantity=1) for p in plans],
    )
    return order_pay_wallet(order=order)


def test_order_pages_query_counts_do_not_grow_with_the_lines(client):
    customer = funded_customer("500.00")
    client.force_login(customer)
    one = _paid_order(customer, [plan_for_sale(stock=1)])
    twenty = _paid_order(customer, [plan_for_sale(stock=1) for _ in range(20)])
    assert twenty.lines.count() == 20 and twenty.status == Order.Status.FULFILLED
    pending_one = place(customer, plan_for_sale(stock=1))
    pending_many = order_place(
        customer=customer,
        currency="USD",
        lines=[LineRequest(kind="esim", plan=plan_for_sale(stock=1)) for _ in range(20)],
    )

    for suffix in ("", "receipt/"):
        assert _queries(client, f"/orders/{one.public_id}/{suffix}") == _queries(
            client, f"/orders/{twenty.public_id}/{suffix}"
        )
    assert _queries(client, detail(pending_one)) == _queries(client, detail(pending_many))
    small = _queries(client, "/orders/")
    for _ in range(5):
        place(customer, plan_for_sale(stock=1))
    assert _queries(client, "/orders/") == small
