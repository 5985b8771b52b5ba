"""The help page, the contact form and the customer's support requests."""

import uuid

import pytest
from django.core import mail
from django.core.cache import cache

from billing.models import SupportRequest
from storefront.views import help as help_views
from tests.billing.order_support import bought_esim, funded_customer, plan_for_sale
from tests.billing.payment_support import payment_make
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CONTACT = "/help/contact/"


def test_help_sections_and_the_refund_window(client, settings):
    settings.SIMDESK_REFUND_WINDOW_DAYS = 21
    response = client.get("/help/")
    assert response.status_code == 200
    text = response.content.decode()
    for anchor in ("compatibility", "install", "validity", "refunds", "contact"):
        assert f'id="{anchor}"' in text and f'href="#{anchor}"' in text
    assert "within 21 days of purchase" in text
    assert "Starts when you first connect" in text and "Starts when installed" in text
    assert 'id="steps-iphone"' in text and 'id="steps-android"' in text
    assert 'href="/devices/"' in text and 'href="/help/contact/"' in text
    assert "csrfmiddlewaretoken" not in text


def _post(client, **fields):
    data = {
        "topic": "installing",
        "subject": "QR code does not scan",
        "message": "The phone says the code is invalid.",
    } | fields
    return client.post(CONTACT, data, REMOTE_ADDR=fields.pop("ip", "10.8.0.1"))


@pytest.fixture
def customer_with_order():
    customer = funded_customer("20.00")
    order, _profile = bought_esim(customer, plan_for_sale(price="9.00"))
    return customer, order


def test_a_customer_links_their_order(
    client, customer_with_order, django_capture_on_commit_callbacks
):
    customer, order = customer_with_order
    topup = payment_make(customer, "50.00")
    client.force_login(customer)
    form = client.get(CONTACT, {"order": str(order.public_id)}).content.decode()
    assert "Related order or payment (optional)" in form
    assert f'value="order:{order.public_id}" selected' in form
    assert f'value="payment:{topup.public_id}"' in form
    assert order.number in form and "9.00 USD" in form
    assert 'name="email"' not in form

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, about=f"order:{order.public_id}", topic="refund")
    request = SupportRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/help/requests/{request.public_id}/"
    assert (request.customer, request.order, request.payment) == (customer, order, None)
    assert (request.email, request.topic, request.language) == (customer.email, "refund", "en")
    assert len(mail.outbox) == 1

    page = client.get(response["Location"]).content.decode()
    assert request.number in page and order.number in page and "QR code does not scan" in page

    response = _post(client, about=f"payment:{topup.public_id}", topic="payment")
    assert SupportRequest.objects.get(payment=topup).customer == customer


def test_another_customers_order_is_refused(client, customer_with_order):
    _owner, order = customer_with_order
    stranger = UserFactory()
    client.force_login(stranger)
    response = _post(client, about=f"order:{order.public_id}")
    assert response.status_code == 400
    assert "Choose one of your own orders or payments." in response.content.decode()
    assert not SupportRequest.objects.exists()
    # Preselecting another's order selects nothing.
    form = client.get(CONTACT, {"order": str(order.public_id)}).content.decode()
    assert f'value="order:{order.public_id}"' not in form
    assert client.get(CONTACT, {"order": "not-a-uuid"}).status_code == 200


def test_a_visitor_needs_an_email_and_gets_the_number(client, django_capture_on_commit_callbacks):
    form = client.get(CONTACT).content.decode()
    assert 'name="email"' in form and 'name="about"' not in form
    assert '<label for="id_email">' in form

    response = _post(client, name="Li Lei")
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not SupportRequest.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, name="Li Lei", email="li@example.com", ip="10.8.0.2")
    assert response.status_code == 302
    request = SupportRequest.objects.get()
    assert request.customer is None and request.email == "li@example.com"
    page = client.get(response["Location"]).content.decode()
    assert request.number in page and "li@example.com" in page
    assert mail.outbox[-1].to == ["li@example.com"]


def test_visitors_are_rate_limited(client, monkeypatch):
    monkeypatch.setattr(help_views, "ANONYMOUS_REQUESTS_PER_HOUR", 2)
    ip = f"10.9.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    cache.delete(help_views.RATE_KEY.format(ip=ip))
    for _ in range(2):
        assert _post(client, name="Bot", email="bot@example.com", ip=ip).status_code == 302
    response = _post(client, name="Bot", email="bot@example.com", ip=ip)
    assert response.status_code == 429
    assert "several requests in a short time" in response.content.decode()
    assert SupportRequest.objects.count() == 2
    cache.delete(help_views.RATE_KEY.format(ip=ip))


def test_requests_pages_are_the_customers_own(client, customer_with_order):
    customer, _order = customer_with_order
    assert client.get("/help/requests/").status_code == 302  # sign in first
    mine = SupportRequest.objects.create(
        customer=customer,
        email=customer.email,
        topic="other",
        subject="Mine",
        message="m",
        language="en",
    )
    other = SupportRequest.objects.create(
        customer=UserFactory(),
        email="o@example.com",
        topic="other",
        subject="Theirs",
        message="t",
        language="en",
    )
    client.force_login(customer)
    listing = client.get("/help/requests/").content.decode()
    assert mine.number in listing and "Mine" in listing
    assert other.number not in listing and "Theirs" not in listing
    assert client.get(f"/help/requests/{mine.public_id}/").status_code == 200
    assert client.get(f"/help/requests/{other.public_id}/").status_code == 404
    assert client.get(f"/help/requests/{uuid.uuid4()}/").status_code == 404
