"""Support requests from the contact form: recorded, acknowledged to the writer in their
language, and (when SIMDESK_SUPPORT_EMAIL is set) announced to the support inbox."""

import logging
from functools import partial

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from billing.exceptions import OrderError
from billing.models import Order, Payment, SupportRequest
from billing.services.emails import email_send

MSG_NOT_YOURS = _("This order or payment is not on your account.")
MSG_ORDER_AND_PAYMENT = _("Choose an order or a payment, not both.")
MSG_SIGN_IN = _("Sign in to ask about one of your orders or payments.")
MSG_NO_EMAIL = _("An email address is needed to answer you.")

ACK_TEMPLATE = "billing/email/support_request_received"
STAFF_TEMPLATE = "billing/email/support_request_staff"

logger = logging.getLogger(__name__)


class SupportRequestRefused(OrderError):
    """A request about someone else's order or payment, or without an address to answer."""


@transaction.atomic
def support_request_create(
    *,
    customer: User | None,
    email: str,
    name: str,
    topic: str,
    subject: str,
    message: str,
    order: Order | None = None,
    payment: Payment | None = None,
    language: str,
) -> SupportRequest:
    """Record a request from a customer (or a visitor, `customer` None), optionally about one
    of the customer's orders or payments, and acknowledge it by email after commit."""
    if order is not None and payment is not None:
        raise SupportRequestRefused(MSG_ORDER_AND_PAYMENT)
    if (order is not None or payment is not None) and customer is None:
        raise SupportRequestRefused(MSG_SIGN_IN)
    if customer is not None:
        for thing in (order, payment):
            if thing is not None and thing.customer_id != customer.pk:
                raise SupportRequestRefused(MSG_NOT_YOURS)
        email = email or customer.email
        name = name or customer.full_name
    if not email:
        raise SupportRequestRefused(MSG_NO_EMAIL)
    languages = {code for code, _label in settings.LANGUAGES}
    request = SupportRequest.objects.create(
        customer=customer,
        email=email,
        name=name,
        topic=topic,
        subject=subject,
        message=message,
        order=order,
        payment=payment,
        language=language if language in languages else settings.LANGUAGE_CODE,
    )
    transaction.on_commit(partial(_ack_enqueue, request.pk))
    return request


def _ack_enqueue(support_request_id: int) -> None:
    from billing.tasks import support_request_ack_task

    support_request_ack_task.delay(support_request_id)


def support_request_ack_send(*, support_request_id: int) -> bool:
    """Email the writer that we received the request (once, however often it runs), in the
    customer's language, or the page's for a visitor; then tell the support inbox if one is
    set. False when it had already been sent."""
    claimed = SupportRequest.objects.filter(
        pk=support_request_id, acknowledged_at__isnull=True
    ).update(acknowledged_at=timezone.now())
    if not claimed:
        return False
    request = SupportRequest.objects.select_related("customer", "order", "payment").get(
        pk=support_request_id
    )
    # A visitor has no account: an unsaved user carries their address and language.
    recipient = request.customer or User(
        email=request.email, full_name=request.name, preferred_language=request.language
    )
    try:
        email_send(
            to=recipient,
            template=ACK_TEMPLATE,
            context={"request": request, "request_url": _request_url(request)},
        )
    except OSError:
        # Not sent: let the retry claim it again.
        SupportRequest.objects.filter(pk=support_request_id).update(acknowledged_at=None)
        raise
    _staff_notify(request)
    return True


def _request_url(request: SupportRequest) -> str:
    """The request's page for a customer (visitors have none: the email is the record)."""
    if request.customer_id is None:
        return ""
    path = reverse("storefront:support-request", args=[request.public_id])
    return f"{settings.SIMDESK_SITE_URL}{path}"


def _staff_notify(request: SupportRequest) -> None:
    inbox = settings.SIMDESK_SUPPORT_EMAIL
    if not inbox:
        return
    path = reverse("admin:billing_supportrequest_change", args=[request.pk])
    # The inbox has no account: an unsaved user carries its address and the shop's language.
    staff = User(email=inbox, preferred_language=settings.LANGUAGE_CODE)
    context = {"request": request, "admin_url": f"{settings.SIMDESK_SITE_URL}{path}"}
    try:
        email_send(to=staff, template=STAFF_TEMPLATE, context=context)
    except OSError:
        # The customer's acknowledgement went out; the request waits in the admin either way.
        logger.warning("Support request %s: the support inbox was not told", request.number)


def support_request_handle(
    *, support_request: SupportRequest, status: str, staff_note: str, actor: User
) -> SupportRequest:
    """Staff set the status and their note; the request remembers who handled it."""
    support_request.status = status
    support_request.staff_note = staff_note
    support_request.handled_by = actor
    support_request.save(update_fields=["status", "staff_note", "handled_by", "updated_at"])
    return support_request
