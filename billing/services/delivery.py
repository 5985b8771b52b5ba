"""The emails that follow fulfilment: the customer's delivery (QR code, activation code,
manual entry fields, the iOS one-tap link, install steps) and reseller staff's alert when an
order waits for stock."""

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.roles import RESELLER_STAFF
from billing.models import Delivery, Order, OrderLine
from billing.services.emails import email_send
from catalog.install import ios_install_url, qr_png


def order_deliveries(order: Order) -> list[Delivery]:
    return list(
        Delivery.objects.filter(line__order=order)
        .select_related("line", "line__plan", "line__plan__region", "profile", "bundle")
        .order_by("line_id", "pk")
    )


def order_delivery_send(*, order_id: int) -> bool:
    """Email the customer what the order delivered, in their language; at most once."""
    with transaction.atomic():
        # Fulfilled, even if refunded in part since: what was delivered is still theirs.
        claimed = Order.objects.filter(
            pk=order_id, fulfilled_at__isnull=False, delivery_sent_at__isnull=True
        ).update(delivery_sent_at=timezone.now())
        if not claimed:
            return False
        order = Order.objects.select_related("customer").get(pk=order_id)
        esims = []
        images = []
        cards = []
        for delivery in order_deliveries(order):
            if delivery.line.kind == OrderLine.Kind.ESIM:
                code = delivery.profile.activation_code
                content_id = f"qr-{delivery.profile.iccid}"
                images.append((content_id, qr_png(code)))
                esims.append(
                    {
                        "profile": delivery.profile,
                        "plan": delivery.line.plan,
                        "activation_code": code,
                        "ios_url": ios_install_url(code),
                        "qr_cid": content_id,
                    }
                )
            else:
                cards.append(delivery)
        # Sent inside the claim's transaction: a refused send rolls the claim back for a retry.
        email_send(
            to=order.customer,
            template="billing/email/order_delivered",
            context={"order": order, "esims": esims, "cards": cards},
            inline_images=images,
        )
    return True


def order_stock_alert_send(*, order_id: int) -> int:
    """Tell reseller staff an order is waiting for stock: which plans and how many."""
    order = Order.objects.select_related("customer").get(pk=order_id)
    if order.status != Order.Status.AWAITING_STOCK:
        return 0
    lines = list(
        order.lines.filter(kind=OrderLine.Kind.ESIM, fulfilled_at__isnull=True).select_related(
            "plan"
        )
    )
    staff = User.objects.filter(groups__name=RESELLER_STAFF, is_active=True, is_staff=True)
    sent = 0
    for user in staff:
        email_send(
            to=user,
            template="billing/email/order_awaiting_stock",
            context={
                "order": order,
                "lines": lines,
                "hours": settings.SIMDESK_AWAITING_STOCK_HOURS,
            },
        )
        sent += 1
    return sent
