"""Billing's Celery tasks: thin callers of the services, each safe to run twice."""

import logging
import urllib.error
import urllib.request

from celery import Task, shared_task
from django.db import OperationalError
from django.utils import timezone

from billing.gateways import GatewayError
from billing.gateways.signing import SIGNATURE_HEADER, signature_header
from billing.selectors import renewals as renewal_selectors
from billing.services import (
    delivery,
    fulfilment,
    orders,
    payments,
    reconciliation,
    refunds,
    reminders,
    renewals,
    webhooks,
)

logger = logging.getLogger(__name__)

DELIVERY_MAX_RETRIES = 8


def _backoff(retries: int, base: int = 5, cap: int = 3600) -> int:
    """5 s, 10 s, 20 s ... at most an hour."""
    return int(min(base * 2**retries, cap))


@shared_task(name="billing.gateway_event_process_task", ignore_result=True)
def gateway_event_process_task(event_id: int) -> None:
    """One event (a replay, or the sweeper's retry); a failure is recorded on the event and
    the sweeper tries again with backoff."""
    webhooks.gateway_event_process_safely(event_id=event_id)


@shared_task(name="billing.gateway_events_drain_task", ignore_result=True)
def gateway_events_drain_task() -> int:
    """Every event stored since the last drain, in arrival order."""
    return webhooks.gateway_events_drain()


@shared_task(name="billing.gateway_events_sweep_task", ignore_result=True)
def gateway_events_sweep_task() -> int:
    """Events whose task was lost, and failed events whose backoff has passed."""
    ids = webhooks.gateway_events_due()
    for event_id in ids:
        gateway_event_process_task.delay(event_id)
    return len(ids)


@shared_task(name="billing.payments_pending_sweep_task", ignore_result=True)
def payments_pending_sweep_task() -> int:
    """Ask the gateway about every payment still pending after a few minutes."""
    ids = payments.payments_due_for_lookup()
    for payment_id in ids:
        payment_refresh_task.delay(payment_id)
    return len(ids)


@shared_task(bind=True, name="billing.payment_refresh_task", max_retries=3)
def payment_refresh_task(self: Task, payment_id: int) -> None:
    try:
        payments.payment_refresh(payment_id=payment_id)
    except Exception as exc:
        logger.warning("payment %s look-up failed: %s", payment_id, type(exc).__name__)
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries, base=30)) from exc


@shared_task(bind=True, name="billing.payment_confirmation_send_task", max_retries=5)
def payment_confirmation_send_task(self: Task, payment_id: int) -> None:
    try:
        payments.payment_confirmation_send(payment_id=payment_id)
    except OSError as exc:  # the mail server: transient
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries, base=60)) from exc


# --- The sandbox gateway's side ---------------------------------------------------


@shared_task(bind=True, name="billing.sandbox_event_deliver_task", max_retries=DELIVERY_MAX_RETRIES)
def sandbox_event_deliver_task(self: Task, url: str, body: str) -> int:
    """POST a sandbox event to our webhook, signed at send time, retried like Stripe retries."""
    from django.conf import settings

    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not a web URL: {url!r}")
    data = body.encode()
    request = urllib.request.Request(  # noqa: S310 (checked above)
        url,
        data=data,
        method="POST",
        headers={
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature_header(data, settings.SANDBOX_WEBHOOK_SECRET),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (our own URL)
            return int(response.status)
    except (urllib.error.URLError, OSError) as exc:
        logger.warning("sandbox event delivery to %s failed: %s", url, exc)
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries, base=2)) from exc


@shared_task(name="billing.sandbox_settle_task", ignore_result=True)
def sandbox_settle_task(charge_id: int) -> None:
    from billing.gateways.sandbox import sandbox_settle

    sandbox_settle(charge_id=charge_id)


# --- Orders -----------------------------------------------------------------------


@shared_task(bind=True, name="billing.order_fulfil_task", max_retries=5)
def order_fulfil_task(self: Task, order_id: int) -> None:
    """Deliver a paid order; running it twice delivers nothing more."""
    try:
        fulfilment.order_fulfil(order_id=order_id)
    except OperationalError as exc:
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc


@shared_task(bind=True, name="billing.order_delivery_send_task", max_retries=5)
def order_delivery_send_task(self: Task, order_id: int) -> None:
    try:
        delivery.order_delivery_send(order_id=order_id)
    except Exception as exc:
        logger.warning("delivery email for order %s failed: %s", order_id, type(exc).__name__)
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries, base=30)) from exc


@shared_task(name="billing.order_stock_alert_send_task", ignore_result=True)
def order_stock_alert_send_task(order_id: int) -> None:
    delivery.order_stock_alert_send(order_id=order_id)


@shared_task(name="billing.orders_sweep_task", ignore_result=True)
def orders_sweep_task() -> dict[str, int]:
    """Every few minutes: orders waiting for stock, or paid and not delivered, are tried again,
    those waiting too long are refunded, and orders never paid are canceled."""
    waiting = fulfilment.orders_awaiting_stock() + fulfilment.orders_fulfilment_stalled()
    for order_id in waiting:
        order_fulfil_task.delay(order_id)
    expired = fulfilment.orders_stock_expired()
    for order_id in expired:
        order_stock_timeout_refund_task.delay(order_id)
    unpaid = orders.orders_due_for_cancel()
    for order_id in unpaid:
        order_cancel_task.delay(order_id)
    stuck = refunds.refunds_processing_due()
    for refund_id in stuck:
        refund_resume_task.delay(refund_id)
    return {"waiting": len(waiting), "expired": len(expired), "unpaid": len(unpaid)}


@shared_task(name="billing.orders_awaiting_stock_task", ignore_result=True)
def orders_awaiting_stock_task() -> int:
    """Stock arrived: try every order waiting for it, oldest first."""
    ids = fulfilment.orders_awaiting_stock()
    for order_id in ids:
        order_fulfil_task.delay(order_id)
    return len(ids)


@shared_task(name="billing.order_stock_timeout_refund_task", ignore_result=True)
def order_stock_timeout_refund_task(order_id: int) -> None:
    refunds.order_stock_timeout_refund(order_id=order_id)


@shared_task(name="billing.order_cancel_task", ignore_result=True)
def order_cancel_task(order_id: int) -> None:
    orders.order_cancel(order_id=order_id)


@shared_task(name="billing.refund_resume_task", ignore_result=True)
def refund_resume_task(refund_id: int) -> None:
    refunds.refund_resume(refund_id=refund_id)


@shared_task(bind=True, name="billing.refund_notice_send_task", max_retries=5)
def refund_notice_send_task(self: Task, refund_id: int) -> None:
    try:
        refunds.refund_notice_send(refund_id=refund_id)
    except Exception as exc:
        logger.warning("refund notice %s failed: %s", refund_id, type(exc).__name__)
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries, base=30)) from exc


# --- Renewals and reminders -------------------------------------------------------------


@shared_task(name="billing.renewals_sweep_task", ignore_result=True)
def renewals_sweep_task() -> int:
    """Open the periods due for auto-renewal, then one attempt task per renewal due."""
    renewals.renewals_open()
    ids = renewals.renewals_due()
    for renewal_id in ids:
        renewal_attempt_task.delay(renewal_id)
    return len(ids)


@shared_task(
    bind=True,
    name="billing.renewal_attempt_task",
    max_retries=3,
    acks_late=True,
    reject_on_worker_lost=True,
)
def renewal_attempt_task(self: Task, renewal_id: int) -> None:
    """Charge one period; a duplicate delivery or a rerun after a lost worker charges nothing
    more. Transient gateway or database errors retry; the sweep picks up what still fails."""
    try:
        renewals.renewal_attempt(renewal_id=renewal_id)
    except (GatewayError, OperationalError) as exc:
        logger.warning("renewal %s attempt failed: %s", renewal_id, type(exc).__name__)
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries, base=60)) from exc


@shared_task(bind=True, name="billing.renewal_notice_send_task", max_retries=5)
def renewal_notice_send_task(self: Task, renewal_id: int) -> None:
    try:
        reminders.renewal_notice_send(renewal_id=renewal_id)
    except OSError as exc:
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries, base=60)) from exc


@shared_task(name="billing.reminders_sweep_task", ignore_result=True)
def reminders_sweep_task() -> int:
    """Expiry reminders due, and usage notices whose task was lost: one task each."""
    due = renewal_selectors.expiry_reminders_due(now=timezone.now())
    for bundle_id, kind in due:
        expiry_reminder_send_task.delay(bundle_id, kind)
    usage = renewal_selectors.usage_notices_due()
    if usage:
        usage_notices_send_task.delay(usage)
    return len(due) + len(usage)


@shared_task(bind=True, name="billing.expiry_reminder_send_task", max_retries=5)
def expiry_reminder_send_task(self: Task, bundle_id: int, kind: str) -> None:
    try:
        reminders.expiry_reminder_send(bundle_id=bundle_id, kind=kind)
    except OSError as exc:
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries, base=60)) from exc


@shared_task(bind=True, name="billing.usage_notices_send_task", max_retries=5)
def usage_notices_send_task(self: Task, bundle_ids: list[int]) -> None:
    try:
        reminders.usage_notices_send(bundle_ids=bundle_ids)
    except OSError as exc:
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries, base=60)) from exc


# --- Support requests (help pages, issue #8) ---------------------------------------------------


@shared_task(bind=True, name="billing.support_request_ack_task", max_retries=5)
def support_request_ack_task(self: Task, support_request_id: int) -> None:
    """Acknowledge a support request by email; sent once however often it runs."""
    from billing.services.support import support_request_ack_send

    try:
        support_request_ack_send(support_request_id=support_request_id)
    except OSError as exc:
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries, base=60)) from exc


@shared_task(name="billing.reconciliation_daily_task", ignore_result=True)
def reconciliation_daily_task() -> int | None:
    """Yesterday's reconciliation for the active gateway; finance hear of any discrepancy.
    Run twice, the second finds the first day's run and does nothing (unless it failed)."""
    run = reconciliation.reconciliation_daily()
    return run.pk if run is not None else None
