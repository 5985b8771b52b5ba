"""The wallet page and the recharge history."""

import re
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from djmoney.money import Money

from billing.models import Order, Payment
from billing.services.topups import counter_topup_record
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

Status = Payment.Status


@pytest.fixture
def customer():
    return UserFactory()


@pytest.fixture
def signed_in(client, customer):
    client.force_login(customer)
    return client


@pytest.fixture
def clerk():
    return UserFactory(is_staff=True)


def counter_topup(customer, clerk, amount: str, currency: str = "USD") -> Payment:
    return counter_topup_record(
        customer=customer,
        amount=Money(Decimal(amount), currency),
        method=Payment.Method.CASH,
        reference="slip 1",
        actor=clerk,
        request_token=uuid.uuid4(),
    )


def payment_make(customer, amount="10.00", *, status=Status.PENDING, minutes_ago=0, **fields):
    """A gateway top-up row in any status (history only reads the rows)."""
    return Payment.objects.create(
        customer=customer,
        purpose=fields.pop("purpose", Payment.Purpose.WALLET_TOPUP),
        amount=Decimal(amount),
        currency=fields.pop("currency", "USD"),
        method=Payment.Method.SANDBOX,
        gateway=Payment.Gateway.SANDBOX,
        status=status,
        created_at=timezone.now() - timedelta(minutes=minutes_ago),
        **fields,
    )


def page_text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def rows(response) -> list[str]:
    return re.findall(r'<tr data-testid="topup-row">(.*?)</tr>', page_text(response))


# --- Wallet ------------------------------------------------------------------------------


def test_wallet_shows_each_currency_and_the_latest_top_ups(signed_in, customer, clerk):
    counter_topup(customer, clerk, "20")
    counter_topup(customer, clerk, "1200", "CNY")
    for minutes in range(6):
        payment_make(customer, f"{minutes + 11}.00", minutes_ago=minutes + 1)

    response = signed_in.get("/wallet/")

    text = page_text(response)
    assert response.status_code == 200
    assert re.search(r'data-testid="balance-USD">.*?20\.00 USD', text)
    assert re.search(r'data-testid="balance-CNY">.*?1,200\.00 CNY', text)
    assert 'href="/wallet/topup/">Top up</a>' in text
    latest = rows(response)
    assert len(latest) == 5
    assert "1,200.00 CNY" in latest[0] and "Cash at the counter" in latest[0]
    assert "20.00 USD" in latest[1]
    assert "11.00 USD" in latest[2]
    assert 'href="/wallet/history/"' in text


def test_an_empty_wallet_says_so(signed_in):
    text = page_text(signed_in.get("/wallet/"))
    assert "Your wallet is empty." in text
    assert "No top-ups yet." in text


def test_the_wallet_link_is_in_the_header_for_customers(client, customer):
    assert 'href="/wallet/"' not in client.get("/").content.decode()
    client.force_login(customer)
    assert '<a href="/wallet/">Wallet</a>' in client.get("/").content.decode()


def test_the_wallet_needs_a_signed_in_customer(client):
    response = client.get("/wallet/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/wallet/"


# --- History -----------------------------------------------------------------------------


def test_history_lists_every_top_up_newest_first_with_its_status(signed_in, customer, clerk):
    payment_make(customer, "10.00", status=Status.FAILED, minutes_ago=50)
    payment_make(customer, "11.00", status=Status.CANCELED, minutes_ago=40)
    payment_make(customer, "12.00", status=Status.PENDING, minutes_ago=30)
    paid = payment_make(
        customer, "100.00", status=Status.SUCCEEDED, bonus=Decimal("5"), minutes_ago=20
    )
    order = Order.objects.create(
        customer=customer, currency="USD", subtotal=Decimal("99"), total=Decimal("99")
    )
    payment_make(customer, "99.00", purpose=Payment.Purpose.ORDER, order=order, minutes_ago=10)
    payment_make(UserFactory(), "77.00", status=Status.SUCCEEDED)
    counter = counter_topup(customer, clerk, "30")

    response = signed_in.get("/wallet/history/")

    found = rows(response)
    assert len(found) == 5
    assert "30.00 USD" in found[0] and "Cash at the counter" in found[0]
    assert "Succeeded" in found[0]
    assert f"/wallet/topups/{counter.public_id}/receipt/" in found[0]
    assert "100.00 USD" in found[1] and "+5.00 USD" in found[1]
    assert f"Receipt {paid.receipt_number}" in found[1]
    assert "12.00 USD" in found[2] and "Processing" in found[2] and "receipt" not in found[2]
    assert "11.00 USD" in found[3] and "Canceled" in found[3]
    assert "10.00 USD" in found[4] and "Failed" in found[4] and "Test gateway" in found[4]
    text = page_text(response)
    assert "99.00" not in text  # an order payment is not a top-up
    assert "77.00" not in text  # another customer's


def test_history_pages_by_twenty(signed_in, customer):
    for minutes in range(25):
        payment_make(customer, f"{minutes + 10}.00", minutes_ago=minutes)

    first = signed_in.get("/wallet/history/")
    second = signed_in.get("/wallet/history/", {"page": 2})
    beyond = signed_in.get("/wallet/history/", {"page": "x"})

    assert len(rows(first)) == 20
    assert "10.00 USD" in rows(first)[0]
    assert "Page 1 of 2" in page_text(first)
    assert len(rows(second)) == 5
    assert "34.00 USD" in rows(second)[-1]
    assert beyond.status_code == 200 and len(rows(beyond)) == 20


def test_history_reads_the_same_number_of_queries_for_3_or_30_rows(client):
    counts = []
    for n in (3, 30):
        customer = UserFactory()
        for i in range(n):
            payment_make(customer, "10.00", status=Status.SUCCEEDED, minutes_ago=i)
        client.force_login(customer)
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/wallet/history/")
        assert len(rows(response)) == min(n, 20)
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_the_wallet_reads_the_same_number_of_queries_for_any_history(
    client, django_assert_max_num_queries
):
    customer = UserFactory()
    for i in range(30):
        payment_make(customer, "10.00", status=Status.SUCCEEDED, minutes_ago=i)
    client.force_login(customer)
    with django_assert_max_num_queries(10):
        assert client.get("/wallet/").status_code == 200
