"""Gateway webhooks: verify, store once by the gateway's event id, answer at once; process
later in a task, once, with the payment's rules deciding what each event may still change."""

import logging
from collections.abc import Mapping
from contextlib import nullcontext
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from billing.exceptions import PaymentNotReady
from billing.gateways import PaymentUpdate, gateway_get
from billing.models import GatewayEvent, Payment
from billing.services.payments import payment_update_apply

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

Status = GatewayEvent.Status

NOTE_NO_PAYMENT = "no payment of ours matches this event"
# Secrets a gateway may put in an event (a PaymentIntent's client secret) are not stored.
REDACTED_KEYS = frozenset({"client_secret"})
# An event still "received" this long after arriving lost its task: the sweeper sends another.
STALE_AFTER = timedelta(minutes=2)
# A failed event is tried again by the sweeper after 1, 2, 4 ... minutes, eight times at most.
MAX_ATTEMPTS = 8
RETRY_BASE = timedelta(minutes=1)
# One drain task serves every event that arrives while it waits in the queue, so a burst of
# deliveries costs one Celery message rather than one each. The key expires by itself, so a
# lost drain task delays processing by this long at most.
DRAIN_KEY = "billing:gateway-events-drain"
DRAIN_KEY_SECONDS = 30
DRAIN_BATCH = 500


def gateway_event_receive(
    *, gateway: str, body: bytes, headers: Mapping[str, str]
) -> GatewayEvent | None:
    """Verify and store one delivery; None when the event was already stored (a duplicate).

    Raises WebhookInvalid (answered 400, nothing written) for a bad signature, a stale
    timestamp or a body that is not an event; UnknownGateway for a gateway that is off.
    """
    data = gateway_get(gateway).webhook_verify(body=body, headers=headers)
    event = GatewayEvent(
        gateway=gateway,
        event_id=data.event_id[:255],
        type=data.type[:100],
        payload=_redact(data.payload),
    )
    try:
        # One statement: in a request (autocommit) the INSERT commits alone, without a BEGIN
        # and a COMMIT round trip around it; in a caller's transaction, a savepoint keeps a
        # duplicate from breaking that transaction.
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            event.save(force_insert=True)
    except IntegrityError:
        return None
    # At once when the INSERT committed alone, else once the caller's transaction commits.
    transaction.on_commit(_drain_schedule)
    return event


def gateway_event_process(*, event_id: int) -> GatewayEvent:
    """Apply one stored event; safe to run twice (a processed event is left alone)."""
    with transaction.atomic():
        event = GatewayEvent.objects.select_for_update().get(pk=event_id)
        if event.status in (Status.PROCESSED, Status.IGNORED):
            return event
        update = gateway_get(event.gateway).event_parse(event.payload)
        payment = _payment_for(event.gateway, update) if update is not None else None
        event.attempts += 1
        event.processed_at = timezone.now()
        if update is None or payment is None:
            event.status = Status.IGNORED
            event.last_error = "" if update is None else NOTE_NO_PAYMENT
        else:
            payment_update_apply(payment=payment, update=update)
            event.payment = payment
            event.status = Status.PROCESSED
            event.last_error = ""
        event.save(update_fields=["status", "payment", "attempts", "processed_at", "last_error"])
    return event


def gateway_event_fail(*, event_id: int, error: BaseException) -> None:
    """Record why processing failed and when to try again; after MAX_ATTEMPTS the event stays
    failed, listed in the admin, until staff replay it."""
    message = f"{type(error).__name__}: {error}"
    if isinstance(error, PaymentNotReady):
        logger.info("gateway event %s waits: %s", event_id, message)
    else:
        logger.warning("gateway event %s failed: %s", event_id, message)
    with transaction.atomic():
        event = (
            GatewayEvent.objects.select_for_update()
            .exclude(status__in=(Status.PROCESSED, Status.IGNORED))
            .filter(pk=event_id)
            .first()
        )
        if event is None:
            return
        event.attempts += 1
        event.status = Status.FAILED
        event.last_error = message[:2000]
        event.next_attempt_at = (
            timezone.now() + RETRY_BASE * 2 ** (event.attempts - 1)
            if event.attempts < MAX_ATTEMPTS
            else None
        )
        event.save(update_fields=["attempts", "status", "last_error", "next_attempt_at"])


def gateway_events_drain(*, limit: int = DRAIN_BATCH) -> int:
    """Process every event waiting since the last drain, oldest first; returns how many."""
    # Cleared first: an event stored from now on schedules a drain of its own.
    cache.delete(DRAIN_KEY)
    ids = list(
        GatewayEvent.objects.filter(status=Status.RECEIVED)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    for event_id in ids:
        gateway_event_process_safely(event_id=event_id)
    if len(ids) == limit:
        _drain_schedule()  # more are waiting
    return len(ids)


def gateway_event_process_safely(*, event_id: int) -> GatewayEvent | None:
    """Process one event; a failure is recorded on the event for the sweeper's retry."""
    try:
        return gateway_event_process(event_id=event_id)
    except Exception as exc:
        gateway_event_fail(event_id=event_id, error=exc)
        return None


def gateway_event_replay(*, event: GatewayEvent, actor: "User") -> GatewayEvent:
    """Staff send a failed event through processing again."""
    logger.info("gateway event %s replayed by user %s", event.pk, actor.pk)
    updated = GatewayEvent.objects.filter(pk=event.pk, status=Status.FAILED).update(
        status=Status.RECEIVED
    )
    if updated:
        transaction.on_commit(lambda: _process_one(event.pk))
    event.refresh_from_db()
    return event


def gateway_events_due(*, limit: int = 500) -> list[int]:
    """Events to try again: those whose processing task was lost (still "received" minutes
    after arriving) and failed ones whose backoff has passed."""
    now = timezone.now()
    return list(
        GatewayEvent.objects.filter(
            Q(status=Status.RECEIVED, received_at__lt=now - STALE_AFTER)
            | Q(status=Status.FAILED, next_attempt_at__lte=now)
        )
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )


def _payment_for(gateway: str, update: PaymentUpdate) -> Payment | None:
    payments = Payment.objects.select_related("customer")
    if update.reference:
        try:
            return payments.get(public_id=update.reference, gateway=gateway)
        except (Payment.DoesNotExist, ValidationError):
            pass  # not ours, or not a UUID: try the gateway's own id
    if update.gateway_payment_id:
        return payments.filter(
            gateway=gateway, gateway_payment_id=update.gateway_payment_id
        ).first()
    return None


def _process_one(event_id: int) -> None:
    from billing.tasks import gateway_event_process_task

    gateway_event_process_task.delay(event_id)


def _drain_schedule() -> None:
    if cache.add(DRAIN_KEY, 1, DRAIN_KEY_SECONDS):
        from billing.tasks import gateway_events_drain_task

        gateway_events_drain_task.delay()


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: ("[redacted]" if k in REDACTED_KEYS and v else _redact(v)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value
