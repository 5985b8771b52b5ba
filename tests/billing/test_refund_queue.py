"""Finance's refund queue: open requests oldest first, each with its order, payment and eSIM."""

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from billing.gateways.sandbox import sandbox_pay
from billing.models import Order, Payment, Refund, SandboxCharge
from billing.services.orders import LineRequest, order_payment_start, order_place
from billing.services.payments import payment_refresh
from billing.services.refunds import refund_reject, refund_request
from catalog.models import Bundle
from tests.billing.order_support import bought_esim, funded_customer, plan_for_sale
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

QUEUE = "/admin/billing/refund/queue/"
MB = 1024 * 1024


def staff_with(*codenames: str):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="billing", codename__in=codenames)
    )
    return user


def requested_refund(*, email: str, price: str = "10.00", reason: str = "Wrong country", age=None):
    customer = funded_customer(email=email)
    _order, esim = bought_esim(customer, plan_for_sale(price=price))
    refund = refund_request(customer=customer, profile=esim, reason=reason)
    if age is not None:
        Refund.objects.filter(pk=refund.pk).update(created_at=timezone.now() - age)
        refund.refresh_from_db()
    return refund


def gateway_requested_refund(django_capture_on_commit_callbacks) -> Refund:
    """An eSIM paid through the sandbox gateway, its refund asked for."""
    customer = UserFactory(email="card.payer@example.com")
    plan = plan_for_sale(price="20.00")
    with django_capture_on_commit_callbacks(execute=True):
        order = order_place(customer=customer, currency="USD", lines=[LineRequest("esim", plan)])
        payment = order_payment_start(
            order=order,
            method=Payment.Method.SANDBOX,
            request_token=uuid.uuid4(),
            return_url=lambda p: f"http://testserver/orders/{p.public_id}/",
            cancel_url="http://testserver/checkout/",
            webhook_url="",
        )
        sandbox_pay(token=SandboxCharge.objects.get(reference=str(payment.public_id)).token)
        payment_refresh(payment_id=payment.pk)
    order.refresh_from_db()
    assert order.paid_with == Order.PaidWith.GATEWAY
    esim = order.lines.get().deliveries.get().profile
    return refund_request(customer=customer, profile=esim, reason="Trip canceled")


def test_the_url_name_is_the_queue():
    assert reverse("admin:billing_refund_queue") == QUEUE


def test_requests_are_listed_oldest_first_with_their_facts(
    client, django_capture_on_commit_callbacks
):
    newer = requested_refund(email="newer@example.com", reason="Changed my plans")
    older = requested_refund(email="older@example.com", age=timedelta(days=3))
    paid_by_card = gateway_requested_refund(django_capture_on_commit_callbacks)
    Refund.objects.filter(pk=paid_by_card.pk).update(created_at=timezone.now() - timedelta(days=1))
    # Usage reported after the request: the queue shows what is used and left now.
    Bundle.objects.filter(profile=older.profile).update(
        status=Bundle.Status.ACTIVE, data_used_bytes=1024 * MB
    )
    decided = requested_refund(email="decided@example.com", age=timedelta(days=9))
    finance = staff_with("view_refund", "decide_refund")
    refund_reject(refund_id=decided.pk, actor=finance, note="Used abroad")

    client.force_login(finance)
    response = client.get(QUEUE)

    assert response.status_code == 200
    rows = response.context["requested"]
    assert [row.refund.pk for row in rows] == [older.pk, paid_by_card.pk, newer.pk]
    assert response.context["processing"] == []
    page = response.content.decode()
    assert "decided@example.com" not in page
    assert decided.number not in page
    # Oldest first on the page too.
    assert page.index(older.number) < page.index(paid_by_card.number) < page.index(newer.number)

    older_row = rows[0]
    assert older_row.amount == "10.00 USD"
    assert older_row.facts.order == older.order
    assert older_row.facts.current_bundle.used == "1024.0 MB"
    assert older_row.facts.current_bundle.left == "4096.0 MB"  # of the plan's 5120 MB
    assert "1024.0 MB used, 4096.0 MB left" in page
    assert older.profile.iccid in page
    assert "older@example.com" in page
    assert "Wrong country" in page and "Changed my plans" in page
    assert "3\xa0days" in page  # how long it has waited
    assert older.order.number in page
    assert "Paid from the wallet" in page

    card_row = rows[1]
    payment = card_row.facts.payment
    assert payment is not None and payment.method == Payment.Method.SANDBOX
    assert card_row.captured == "20.00 USD"
    assert payment.receipt_number in page
    assert payment.get_gateway_display() in page
    assert "Trip canceled" in page


def test_approve_and_reject_links_only_for_those_who_may_decide(client):
    refund = requested_refund(email="wang.fang@example.com")
    approve = reverse("admin:billing_refund_approve", args=[refund.pk])
    reject = reverse("admin:billing_refund_reject", args=[refund.pk])

    client.force_login(staff_with("view_refund"))
    page = client.get(QUEUE).content.decode()
    assert refund.number in page
    assert approve not in page and reject not in page

    client.force_login(staff_with("view_refund", "decide_refund"))
    page = client.get(QUEUE).content.decode()
    assert f'href="{approve}"' in page and f'href="{reject}"' in page


def test_refused_without_the_view_permission(client):
    requested_refund(email="wang.fang@example.com")
    client.force_login(staff_with("decide_refund", "view_order"))
    assert client.get(QUEUE).status_code == 403


def test_refunds_processing_at_the_gateway_are_shown_apart(client):
    waiting = requested_refund(email="waiting@example.com")
    stuck = requested_refund(email="stuck@example.com", age=timedelta(days=2))
    Refund.objects.filter(pk=stuck.pk).update(
        status=Refund.Status.PROCESSING,
        destination=Refund.Destination.ORIGINAL,
        decided_at=timezone.now() - timedelta(hours=5),
    )
    client.force_login(staff_with("view_refund", "decide_refund"))
    response = client.get(QUEUE)
    assert [row.refund.pk for row in response.context["requested"]] == [waiting.pk]
    assert [row.refund.pk for row in response.context["processing"]] == [stuck.pk]
    page = response.content.decode()
    assert "5\xa0hours" in page  # since approval
    # Nothing to decide any more: no approve link for the one processing.
    assert reverse("admin:billing_refund_approve", args=[stuck.pk]) not in page


def test_the_changelist_links_to_the_queue(client):
    client.force_login(staff_with("view_refund"))
    assert f'href="{QUEUE}"' in client.get("/admin/billing/refund/").content.decode()


def queue_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(QUEUE)
    assert response.status_code == 200
    return len(queries)


def test_the_page_queries_do_not_grow_with_the_queue(client):
    client.force_login(staff_with("view_refund", "decide_refund"))
    for n in range(2):
        requested_refund(email=f"few{n}@example.com")
    few = queue_queries(client)
    assert len(client.get(QUEUE).context["requested"]) == 2
    for n in range(28):
        requested_refund(email=f"many{n}@example.com")
    assert len(client.get(QUEUE).context["requested"]) == 30
    assert queue_queries(client) == few
