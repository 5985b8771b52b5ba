"""Support requests: the service's rules, the acknowledgement email (once, in the customer's
language), and the staff console for reseller staff and finance."""

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.db import IntegrityError, transaction
from django.utils import translation

from accounts.roles import FINANCE, RESELLER_STAFF
from billing.models import SupportRequest
from billing.services import emails
from billing.services.support import (
    SupportRequestRefused,
    support_request_ack_send,
    support_request_create,
)
from tests.billing.order_support import bought_esim, funded_customer, plan_for_sale
from tests.billing.payment_support import payment_make
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

Topic = SupportRequest.Topic


def _create(customer=None, **fields):
    values = {
        "customer": customer,
        "email": "" if customer else "visitor@example.com",
        "name": "" if customer else "Li Lei",
        "topic": Topic.INSTALLING,
        "subject": "QR code does not scan",
        "message": "My phone says the code is not valid.",
        "language": "en",
    } | fields
    return support_request_create(**values)


@pytest.fixture
def order_and_customer():
    customer = funded_customer("20.00", full_name="Wang Fang")
    order, _profile = bought_esim(customer, plan_for_sale(price="9.00"))
    return order, customer


def test_a_customer_request_about_their_order(
    order_and_customer, django_capture_on_commit_callbacks
):
    order, customer = order_and_customer
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        request = _create(customer, order=order, topic=Topic.REFUND)
    request.refresh_from_db()
    assert (request.customer, request.order, request.payment) == (customer, order, None)
    assert (request.email, request.name) == (customer.email, "Wang Fang")
    assert request.status == SupportRequest.Status.OPEN
    assert request.number == f"S-{request.pk:06d}"
    assert request.acknowledged_at is not None
    (message,) = mail.outbox
    assert message.to == [customer.email]
    assert request.number in message.subject
    assert order.number in message.body
    assert f"/help/requests/{request.public_id}/" in message.body


def test_another_customers_order_or_payment_is_refused(order_and_customer):
    order, _owner = order_and_customer
    stranger = UserFactory()
    with pytest.raises(SupportRequestRefused, match="not on your account"):
        _create(stranger, order=order)
    with pytest.raises(SupportRequestRefused, match="not on your account"):
        _create(stranger, payment=payment_make(UserFactory()))
    with pytest.raises(SupportRequestRefused, match="Sign in"):
        _create(None, order=order)
    assert not SupportRequest.objects.exists()


def test_not_both_an_order_and_a_payment(order_and_customer):
    order, customer = order_and_customer
    payment = payment_make(customer)
    with pytest.raises(SupportRequestRefused, match="not both"):
        _create(customer, order=order, payment=payment)
    with pytest.raises(IntegrityError), transaction.atomic():
        SupportRequest.objects.create(
            customer=customer,
            email=customer.email,
            topic=Topic.OTHER,
            subject="x",
            message="y",
            language="en",
            order=order,
            payment=payment,
        )
    assert not SupportRequest.objects.exists()


def test_the_acknowledgement_is_in_the_customers_language_and_sent_once(
    monkeypatch, django_capture_on_commit_callbacks
):
    customer = UserFactory(preferred_language="zh-hans")
    rendered_in = []
    render = emails.render_to_string

    def recording(name, context):
        rendered_in.append((name, translation.get_language()))
        return render(name, context)

    monkeypatch.setattr(emails, "render_to_string", recording)
    with translation.override("en"), django_capture_on_commit_callbacks(execute=True):
        request = _create(customer, language="en")
    assert {name for name, _ in rendered_in} >= {
        "billing/email/support_request_received_subject.txt",
        "billing/email/support_request_received.txt",
    }
    assert {language for _, language in rendered_in} == {"zh-hans"}
    assert len(mail.outbox) == 1
    # The task delivered twice sends nothing more.
    assert support_request_ack_send(support_request_id=request.pk) is False
    assert len(mail.outbox) == 1


def test_a_visitor_is_answered_in_the_language_they_wrote_in(
    monkeypatch, django_capture_on_commit_callbacks
):
    rendered_in = []
    render = emails.render_to_string

    def recording(name, context):
        rendered_in.append(translation.get_language())
        return render(name, context)

    monkeypatch.setattr(emails, "render_to_string", recording)
    with django_capture_on_commit_callbacks(execute=True):
        request = _create(None, language="zh-hans")
    assert set(rendered_in) == {"zh-hans"}
    (message,) = mail.outbox
    assert message.to == ["visitor@example.com"]
    assert request.number in message.subject
    assert "Li Lei" in message.body
    assert "/help/requests/" not in message.body  # visitors have no request page


def test_the_support_inbox_is_told_when_set(settings, django_capture_on_commit_callbacks):
    settings.SIMDESK_SUPPORT_EMAIL = "support@simdesk.example"
    with django_capture_on_commit_callbacks(execute=True):
        request = _create(None)
    assert [m.to for m in mail.outbox] == [["visitor@example.com"], ["support@simdesk.example"]]
    staff = mail.outbox[1]
    assert request.number in staff.subject and request.subject in staff.subject
    assert f"/admin/billing/supportrequest/{request.pk}/change/" in staff.body


def test_a_failed_send_is_retried(monkeypatch):
    from celery.exceptions import Retry

    from billing.tasks import support_request_ack_task

    request = _create(None)  # no on-commit callbacks run: nothing sent yet

    def failing(**kwargs):
        raise OSError("SMTP down")

    monkeypatch.setattr("billing.services.support.email_send", failing)
    with pytest.raises(OSError):
        support_request_ack_send(support_request_id=request.pk)
    request.refresh_from_db()
    assert request.acknowledged_at is None  # free for the retry to claim again
    with pytest.raises(Retry):
        support_request_ack_task.delay(request.pk)

    monkeypatch.undo()
    assert support_request_ack_send(support_request_id=request.pk) is True
    assert len(mail.outbox) == 1


# --- Staff console -----------------------------------------------------------------------


def _staff(role):
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.mark.parametrize("role", [RESELLER_STAFF, FINANCE])
def test_staff_read_and_handle_requests(client, order_and_customer, role):
    order, customer = order_and_customer
    request = _create(customer, order=order, subject="Refund for my Japan eSIM")
    visitor = _create(None, subject="Do you sell Korea plans?")
    staff = _staff(role)
    client.force_login(staff)

    listing = client.get("/admin/billing/supportrequest/")
    assert listing.status_code == 200
    text = listing.content.decode()
    for shown in (request.number, visitor.number, order.number, "visitor@example.com"):
        assert shown in text
    found = client.get("/admin/billing/supportrequest/", {"q": request.number})
    assert request.number in found.content.decode()
    assert visitor.number not in found.content.decode()
    assert client.get("/admin/billing/supportrequest/", {"status": "open"}).status_code == 200
    assert client.get("/admin/billing/supportrequest/add/").status_code == 403

    url = f"/admin/billing/supportrequest/{request.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    assert "Refund for my Japan eSIM" in page.content.decode()
    assert 'name="status"' in page.content.decode()
    assert 'name="subject"' not in page.content.decode()  # what the customer wrote is read-only

    response = client.post(
        url,
        {"status": "answered", "staff_note": "Refund approved.", "subject": "changed"},
    )
    assert response.status_code == 302
    request.refresh_from_db()
    assert (request.status, request.staff_note, request.handled_by) == (
        "answered",
        "Refund approved.",
        staff,
    )
    assert request.subject == "Refund for my Japan eSIM"

    response = client.post(
        "/admin/billing/supportrequest/",
        {"action": "mark_closed", "_selected_action": [visitor.pk]},
    )
    assert response.status_code == 302
    visitor.refresh_from_db()
    assert (visitor.status, visitor.handled_by) == ("closed", staff)
    assert client.post(f"/admin/billing/supportrequest/{visitor.pk}/delete/").status_code == 403
