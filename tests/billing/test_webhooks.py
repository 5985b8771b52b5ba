"""The webhook endpoint: verify, store once, answer at once; processing in a task after commit."""

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import GatewayEvent, JournalEntry, Payment
from billing.services import webhooks
from billing.services.wallets import wallet_get
from billing.tasks import gateway_event_process_task, gateway_events_sweep_task
from tests.billing.payment_support import (
    payment_make,
    post_event,
    refund_event,
    session_event,
    signed,
)

pytestmark = pytest.mark.django_db
Status = Payment.Status


@pytest.fixture
def send(client, django_capture_on_commit_callbacks):
    """Deliver an event and run what the delivery queued after commit (the processing task)."""

    def deliver(event, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return post_event(client, event, **kwargs)

    return deliver


def balance(customer, currency="USD") -> Decimal:
    return wallet_get(user=customer, currency=currency).balance


def test_a_signed_event_is_stored_answered_and_credits_the_wallet_once(
    client, customer, django_capture_on_commit_callbacks
):
    payment = payment_make(customer, "100.00", bonus="5.00")
    event = session_event(payment)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post_event(client, event)
    assert response.status_code == 200
    assert len(callbacks) >= 1  # processing was queued after commit, not run in the request
    stored = GatewayEvent.objects.get(event_id=event["id"])
    assert stored.status == GatewayEvent.Status.PROCESSED
    assert stored.payment == payment
    payment.refresh_from_db()
    assert payment.status == Status.SUCCEEDED
    assert balance(customer) == Decimal("105.00")

    # The same event again: answered 200, stored once, processed once.
    with django_capture_on_commit_callbacks(execute=True):
        again = post_event(client, event)
    assert again.status_code == 200
    assert again.content == b"duplicate"
    assert GatewayEvent.objects.filter(event_id=event["id"]).count() == 1
    assert JournalEntry.objects.filter(payment=payment).count() == 1
    assert balance(customer) == Decimal("105.00")


@pytest.mark.parametrize(
    "how",
    ["tampered body", "wrong secret", "stale timestamp", "no signature", "not json"],
)
def test_a_bad_signature_gets_400_and_writes_nothing(client, customer, how):
    payment = payment_make(customer)
    event = session_event(payment)
    if how == "tampered body":
        body, headers = signed(event)
        body = body.replace(b'"paid"', b'"PAID"')
    elif how == "wrong secret":
        body, headers = signed(event, secret="whsec_wrong")
    elif how == "stale timestamp":
        body, headers = signed(event, timestamp=int(time.time()) - 301)
    elif how == "no signature":
        body, headers = signed(event)
        headers = {}
    else:
        body = b"not json at all"
        _, headers = signed(event)
        headers = signed({"id": "x", "type": "y"})[1]
    response = client.post(
        "/pay/webhooks/sandbox/", data=body, content_type="application/json", headers=headers
    )
    assert response.status_code == 400
    assert not GatewayEvent.objects.exists()
    payment.refresh_from_db()
    assert payment.status == Status.PENDING
    assert balance(customer) == 0


def test_an_unknown_or_disabled_gateway_is_404(client, customer):
    # Stripe is off (no key): its webhook URL does not exist.
    response = post_event(client, session_event(payment_make(customer)), gateway="stripe")
    assert response.status_code == 404
    assert post_event(client, {"id": "e", "type": "t"}, gateway="paypal").status_code == 404
    assert client.get("/pay/webhooks/sandbox/").status_code == 405
    assert not GatewayEvent.objects.exists()


def test_a_late_failure_after_success_changes_nothing(send, customer):
    payment = payment_make(customer, "50.00")
    send(session_event(payment))
    send(session_event(payment, "checkout.session.async_payment_failed"))
    send(session_event(payment, "checkout.session.expired"))
    payment.refresh_from_db()
    assert payment.status == Status.SUCCEEDED
    assert payment.failure_message == ""
    assert balance(customer) == Decimal("50.00")
    assert set(GatewayEvent.objects.values_list("status", flat=True)) == {"processed"}


def test_an_asynchronous_payment_is_pending_then_succeeds(send, customer):
    payment = payment_make(customer, "30.00", status=Status.CREATED)
    send(session_event(payment, paid=False))
    payment.refresh_from_db()
    assert payment.status == Status.PENDING
    assert balance(customer) == 0
    send(session_event(payment, "checkout.session.async_payment_succeeded"))
    payment.refresh_from_db()
    assert payment.status == Status.SUCCEEDED
    assert balance(customer) == Decimal("30.00")


def test_an_asynchronous_failure_fails_the_payment_and_credits_nothing(send, customer):
    payment = payment_make(customer, "30.00")
    send(session_event(payment, paid=False))
    send(session_event(payment, "checkout.session.async_payment_failed"))
    payment.refresh_from_db()
    assert payment.status == Status.FAILED
    assert payment.failure_message
    assert balance(customer) == 0
    assert not JournalEntry.objects.filter(payment=payment).exists()


def test_success_after_a_failure_still_credits_the_money_that_arrived(send, customer):
    payment = payment_make(customer, "20.00")
    send(session_event(payment, "checkout.session.async_payment_failed"))
    send(session_event(payment, "checkout.session.async_payment_succeeded"))
    payment.refresh_from_db()
    assert payment.status == Status.SUCCEEDED
    assert balance(customer) == Decimal("20.00")


def test_refund_events_record_the_largest_cumulative_refund(send, customer):
    payment = payment_make(customer, "80.00", gateway_payment_id="pi_refunded")
    send(session_event(payment))
    send(refund_event(payment, "30.00"))
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount) == (
        Status.PARTIALLY_REFUNDED,
        Decimal("30.00"),
    )
    # Out of order: the earlier, smaller figure arrives after the later, larger one.
    send(refund_event(payment, "80.00"))
    send(refund_event(payment, "30.00"))
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount) == (Status.REFUNDED, Decimal("80.00"))


def test_an_event_for_no_payment_of_ours_is_ignored(send, customer):
    payment = payment_make(customer)
    event = session_event(payment)
    event["data"]["object"]["client_reference_id"] = "not-a-uuid"
    event["data"]["object"]["metadata"] = {}
    event["data"]["object"]["payment_intent"] = "pi_someone_else"
    send(event)
    send({"id": "evt_other", "type": "customer.created", "data": {"object": {}}})
    statuses = dict(GatewayEvent.objects.values_list("event_id", "status"))
    assert statuses == {event["id"]: "ignored", "evt_other": "ignored"}
    assert balance(customer) == 0


def test_a_captured_amount_other_than_the_payment_fails_the_event_and_credits_nothing(customer):
    payment = payment_make(customer, "100.00")
    event = GatewayEvent.objects.create(
        gateway="sandbox",
        event_id="evt_short",
        type="checkout.session.completed",
        payload=session_event(payment, amount=Decimal("1.00")),
    )
    gateway_event_process_task.run(event.pk)
    event.refresh_from_db()
    assert event.status == GatewayEvent.Status.FAILED
    assert "AmountMismatch" in event.last_error
    assert event.attempts == 1
    assert event.next_attempt_at > timezone.now()
    payment.refresh_from_db()
    assert payment.status == Status.PENDING
    assert balance(customer) == 0
    # The sweeper tries again once the backoff has passed, with a longer wait each time.
    assert webhooks.gateway_events_due() == []
    GatewayEvent.objects.filter(pk=event.pk).update(next_attempt_at=timezone.now())
    assert webhooks.gateway_events_due() == [event.pk]
    gateway_events_sweep_task.run()
    event.refresh_from_db()
    assert event.attempts == 2
    assert event.next_attempt_at > timezone.now() + timedelta(seconds=90)


def test_after_the_last_attempt_an_event_waits_for_staff(customer):
    payment = payment_make(customer, "100.00")
    event = GatewayEvent.objects.create(
        gateway="sandbox",
        event_id="evt_hopeless",
        type="checkout.session.completed",
        payload=session_event(payment, amount=Decimal("2.00")),
        attempts=webhooks.MAX_ATTEMPTS - 1,
    )
    gateway_event_process_task.run(event.pk)
    event.refresh_from_db()
    assert (event.status, event.attempts, event.next_attempt_at) == (
        GatewayEvent.Status.FAILED,
        webhooks.MAX_ATTEMPTS,
        None,
    )
    assert event.pk not in webhooks.gateway_events_due()


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_deliveries_queues_one_drain_task(client, customer, monkeypatch):
    from billing import tasks

    queued = []
    monkeypatch.setattr(tasks.gateway_events_drain_task, "delay", lambda: queued.append(1))
    payments = [payment_make(customer, "10.00") for _ in range(3)]
    for payment in payments:
        assert post_event(client, session_event(payment)).status_code == 200
    # Each request committed and asked for a drain: one message serves all three.
    assert len(queued) == 1
    assert webhooks.gateway_events_drain() == 3
    assert balance(customer) == Decimal("30.00")
    assert webhooks.gateway_events_drain() == 0


def test_a_refund_that_overtakes_its_capture_waits_and_then_applies(customer):
    payment = payment_make(customer, "40.00", gateway_payment_id="pi_overtaken")
    refund = GatewayEvent.objects.create(
        gateway="sandbox",
        event_id="evt_r",
        type="charge.refunded",
        payload=refund_event(payment, "10.00"),
    )
    with pytest.raises(Exception, match="not captured"):
        webhooks.gateway_event_process(event_id=refund.pk)
    webhooks.gateway_event_fail(event_id=refund.pk, error=RuntimeError("not captured yet"))
    GatewayEvent.objects.filter(pk=refund.pk).update(status=GatewayEvent.Status.RECEIVED)
    capture = GatewayEvent.objects.create(
        gateway="sandbox",
        event_id="evt_c",
        type="checkout.session.completed",
        payload=session_event(payment),
    )
    webhooks.gateway_event_process(event_id=capture.pk)
    webhooks.gateway_event_process(event_id=refund.pk)  # the retry
    payment.refresh_from_db()
    refund.refresh_from_db()
    assert refund.status == GatewayEvent.Status.PROCESSED
    assert (payment.status, payment.refunded_amount) == (
        Status.PARTIALLY_REFUNDED,
        Decimal("10.00"),
    )


def test_processing_twice_posts_once(customer):
    payment = payment_make(customer, "10.00")
    event = GatewayEvent.objects.create(
        gateway="sandbox",
        event_id="evt_twice",
        type="checkout.session.completed",
        payload=session_event(payment),
    )
    webhooks.gateway_event_process(event_id=event.pk)
    GatewayEvent.objects.filter(pk=event.pk).update(status=GatewayEvent.Status.RECEIVED)
    webhooks.gateway_event_process(event_id=event.pk)
    assert JournalEntry.objects.filter(payment=payment).count() == 1
    assert balance(customer) == Decimal("10.00")


def test_the_sweeper_requeues_events_whose_task_was_lost(
    customer, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    payment = payment_make(customer, "15.00")
    lost = GatewayEvent.objects.create(
        gateway="sandbox",
        event_id="evt_lost",
        type="checkout.session.completed",
        payload=session_event(payment),
        received_at=timezone.now() - timedelta(minutes=3),
    )
    fresh = GatewayEvent.objects.create(
        gateway="sandbox", event_id="evt_fresh", type="customer.created", payload={"data": {}}
    )
    assert gateway_events_sweep_task.run() == 1
    lost.refresh_from_db()
    fresh.refresh_from_db()
    assert lost.status == GatewayEvent.Status.PROCESSED
    assert fresh.status == GatewayEvent.Status.RECEIVED
    assert balance(customer) == Decimal("15.00")


def test_client_secrets_in_events_are_not_stored(send, customer):
    payment = payment_make(customer)
    event = session_event(payment)
    event["data"]["object"]["client_secret"] = "pi_x_secret_abc"
    send(event)
    stored = GatewayEvent.objects.get(event_id=event["id"])
    assert stored.payload["data"]["object"]["client_secret"] == "[redacted]"
