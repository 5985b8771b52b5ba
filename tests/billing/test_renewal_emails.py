"""The emails of auto-renewal: a notice for each failed attempt (with when it is tried again),
the final notice when auto-renewal is turned off, and the receipt of a renewal that went
through (its subject and body say the card was renewed automatically)."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import NoReverseMatch, reverse

from billing.models import AutoRenewal, Renewal
from billing.services import reminders
from billing.services.renewals import auto_renewal_set, renewal_attempt, renewals_open
from billing.services.wallets import wallet_get
from catalog.models import Bundle
from tests.billing.conftest import fund
from tests.billing.order_support import bought_esim, funded_customer, plan_for_sale

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _renew_page(monkeypatch):
    try:
        reverse("storefront:esim-renew", args=["8986000000000000000"])
    except NoReverseMatch:
        monkeypatch.setattr(
            reminders,
            "renew_url",
            lambda iccid: f"http://testserver.invalid/esims/{iccid}/renew/",
        )


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def auto_renewing_card(clock) -> Bundle:
    """A card running 30 days from START, with auto-renewal on, whose owner's wallet is empty
    and who has no saved card; the clock 12 hours before its period ends."""
    plan = plan_for_sale(price="10.00", stock=1, validity_days=30)
    customer = funded_customer("10.00")
    _order, profile = bought_esim(customer, plan)
    bundle = profile.bundles.get()
    Bundle.objects.filter(pk=bundle.pk).update(
        status=Bundle.Status.ACTIVE, starts_at=START, ends_at=START + timedelta(days=30)
    )
    bundle.refresh_from_db()
    auto_renewal_set(customer=customer, profile=profile, plan=plan, currency="USD")
    clock.move_to(bundle.ends_at - timedelta(hours=12))
    return bundle


def opened(bundle: Bundle) -> Renewal:
    assert renewals_open() == 1
    return Renewal.objects.get(profile=bundle.profile)


def attempt(capture, renewal: Renewal) -> Renewal:
    with capture(execute=True):
        return renewal_attempt(renewal_id=renewal.pk)


def test_each_failed_attempt_is_emailed_with_the_next_attempt_then_the_final_notice(
    clock, django_capture_on_commit_callbacks, mailoutbox
):
    bundle = auto_renewing_card(clock)
    profile = bundle.profile
    link = reminders.renew_url(profile.iccid)
    mailoutbox.clear()
    renewal = opened(bundle)

    renewal = attempt(django_capture_on_commit_callbacks, renewal)
    assert renewal.status == Renewal.Status.DUE
    assert renewal.next_attempt_at == bundle.ends_at - timedelta(hours=12) + timedelta(hours=6)
    (first,) = mailoutbox
    assert first.to == [profile.owner.email]
    assert first.subject == f"We could not renew your eSIM {profile.iccid}"
    assert "Your wallet did not hold enough and no card is saved for renewals." in first.body
    assert f"We will try again on {renewal.next_attempt_at:%Y-%m-%d %H:%M} UTC." in first.body
    assert "The renewal costs 10.00 USD." in first.body
    assert link in first.body
    assert "/wallet/topup/" in first.body

    clock.move_to(renewal.next_attempt_at)
    renewal = attempt(django_capture_on_commit_callbacks, renewal)
    assert renewal.status == Renewal.Status.DUE
    assert len(mailoutbox) == 2
    assert f"We will try again on {renewal.next_attempt_at:%Y-%m-%d %H:%M} UTC." in (
        mailoutbox[1].body
    )
    # The next attempt comes after the period ends: the email says there is a gap.
    assert renewal.next_attempt_at > renewal.period_start
    assert "renew by hand to avoid the gap" in mailoutbox[1].body
    assert "avoid the gap" not in first.body

    clock.move_to(renewal.next_attempt_at)
    renewal = attempt(django_capture_on_commit_callbacks, renewal)
    assert renewal.status == Renewal.Status.FAILED
    assert not AutoRenewal.objects.get(profile=profile).enabled
    assert len(mailoutbox) == 3
    final = mailoutbox[2]
    assert final.subject == f"Auto-renewal of your eSIM {profile.iccid} is off"
    assert "turned auto-renewal off" in final.body
    assert f"{renewal.period_start:%Y-%m-%d %H:%M} UTC" in final.body
    assert link in final.body
    assert "try again" not in final.body


def test_the_notice_of_an_attempt_is_sent_once(
    clock, django_capture_on_commit_callbacks, mailoutbox
):
    bundle = auto_renewing_card(clock)
    mailoutbox.clear()
    renewal = attempt(django_capture_on_commit_callbacks, opened(bundle))
    assert len(mailoutbox) == 1
    # The notice task delivered twice, or run again by hand: nothing more.
    assert reminders.renewal_notice_send(renewal_id=renewal.pk) is False
    assert reminders.renewal_notice_send(renewal_id=renewal.pk) is False
    assert len(mailoutbox) == 1
    renewal.refresh_from_db()
    assert renewal.notified_attempts == renewal.attempts == 1


def test_a_reason_without_a_translation_is_shown_as_it_is(clock, mailoutbox):
    bundle = auto_renewing_card(clock)
    mailoutbox.clear()
    renewal = opened(bundle)
    Renewal.objects.filter(pk=renewal.pk).update(
        attempts=1,
        last_error="Card issuer unavailable (code 91)",
        next_attempt_at=START + timedelta(days=30),
    )
    assert reminders.renewal_notice_send(renewal_id=renewal.pk) is True
    (message,) = mailoutbox
    assert "Reason: Card issuer unavailable (code 91)" in message.body


def test_no_notice_for_a_renewal_that_went_through(
    clock, django_capture_on_commit_callbacks, mailoutbox
):
    bundle = auto_renewing_card(clock)
    fund(wallet_get(user=bundle.profile.owner, currency="USD"), "10.00")
    mailoutbox.clear()
    renewal = attempt(django_capture_on_commit_callbacks, opened(bundle))
    assert renewal.status == Renewal.Status.SUCCEEDED
    assert reminders.renewal_notice_send(renewal_id=renewal.pk) is False
    assert [m.subject for m in mailoutbox] == [
        f"Your eSIM {bundle.profile.iccid} was renewed automatically (order {renewal.order.number})"
    ]


def test_the_receipt_of_an_auto_renewal_says_so(
    clock, django_capture_on_commit_callbacks, mailoutbox
):
    bundle = auto_renewing_card(clock)
    profile = bundle.profile
    fund(wallet_get(user=profile.owner, currency="USD"), "10.00")
    mailoutbox.clear()
    renewal = attempt(django_capture_on_commit_callbacks, opened(bundle))
    assert renewal.paid_with == Renewal.PaidWith.WALLET
    order = renewal.order
    (receipt,) = mailoutbox
    assert receipt.to == [profile.owner.email]
    assert "renewed automatically" in receipt.subject
    assert order.number in receipt.subject
    assert f"Your eSIM {profile.iccid} was renewed automatically to {bundle.plan.name}." in (
        receipt.body
    )
    assert f"The new period starts on {bundle.ends_at:%Y-%m-%d %H:%M} UTC" in receipt.body
    assert f"Order number: {order.number}" in receipt.body
    assert f"Total paid: {order.total} USD" in receipt.body
    assert "Paid with: Wallet" in receipt.body
    html = receipt.alternatives[0][0]
    assert "renewed automatically" in html
    assert "Paid with: Wallet" in html


def test_an_ordinary_order_keeps_its_receipt_subject(
    django_capture_on_commit_callbacks, mailoutbox
):
    plan = plan_for_sale(price="10.00", stock=1)
    customer = funded_customer("10.00")
    with django_capture_on_commit_callbacks(execute=True):
        order, _profile = bought_esim(customer, plan)
    (receipt,) = mailoutbox
    assert receipt.subject == f"Your order {order.number} is ready"
    assert "renewed automatically" not in receipt.body
    assert f"Thank you for your order {order.number}." in receipt.body
