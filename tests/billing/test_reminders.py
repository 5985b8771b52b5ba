"""Reminders before a card's period ends (3 and 1 days; 30, 7 and 1 for number-keeping
cards) and notices at 80% and 100% of its data used: each sent once per (eSIM, period, kind),
however many sweeps run, in the customer's language, with the renew (or top-up) link."""

import math
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.urls import NoReverseMatch, reverse
from django.utils import translation

from billing.models import Reminder
from billing.services import emails, reminders
from billing.services.orders import LineRequest, order_pay_wallet, order_place
from billing.services.renewals import auto_renewal_set
from billing.tasks import reminders_sweep_task
from catalog.models import MB, Bundle, Plan
from tests.billing.order_support import bought_esim, funded_customer, plan_for_sale

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
Kind = Reminder.Kind


@pytest.fixture(autouse=True)
def _renew_page(monkeypatch):
    """The renew page belongs to the storefront; until its route exists, the link points to
    where it will be."""
    try:
        reverse("storefront:esim-renew", args=["8986000000000000000"])
    except NoReverseMatch:
        monkeypatch.setattr(
            reminders,
            "renew_url",
            lambda iccid: f"http://testserver.invalid/esims/{iccid}/renew/",
        )


def running_card(
    *, kind: str = Plan.Kind.DATA, days: int = 30, language: str = "en", data_mb: int = 1024
) -> Bundle:
    """A bought card whose first bundle started at START and runs `days` days."""
    plan = plan_for_sale(price="10.00", stock=1, kind=kind, validity_days=days, data_mb=data_mb)
    customer = funded_customer("30.00", preferred_language=language)
    _order, profile = bought_esim(customer, plan)
    bundle = profile.bundles.get()
    Bundle.objects.filter(pk=bundle.pk).update(
        status=Bundle.Status.ACTIVE, starts_at=START, ends_at=START + timedelta(days=days)
    )
    bundle.refresh_from_db()
    return bundle


def sweep(capture) -> None:
    with capture(execute=True):
        reminders_sweep_task()


def reminder_kinds(bundle: Bundle) -> list[str]:
    return sorted(Reminder.objects.filter(bundle=bundle).values_list("kind", flat=True))


# --- Before the period ends ----------------------------------------------------------------


@pytest.mark.django_db
def test_an_ordinary_card_is_reminded_3_days_and_1_day_before_its_period_ends(
    django_capture_on_commit_callbacks, mailoutbox
):
    with time_machine.travel(START, tick=False) as clock:
        bundle = running_card(days=30)
        profile = bundle.profile
        ends = bundle.ends_at
        link = reminders.renew_url(profile.iccid)
        mailoutbox.clear()

        for moment in (START + timedelta(days=1), ends - timedelta(days=7)):
            clock.move_to(moment)
            sweep(django_capture_on_commit_callbacks)
        assert mailoutbox == []

        clock.move_to(ends - timedelta(days=3) + timedelta(minutes=5))
        sweep(django_capture_on_commit_callbacks)
        (three,) = mailoutbox
        assert three.to == [profile.owner.email]
        assert "3 days" in three.subject
        assert profile.iccid in three.subject
        assert link in three.body
        assert bundle.plan.name in three.body
        assert ends.strftime("%Y-%m-%d %H:%M") in three.body
        assert "in 3 days" in three.body
        assert "phone number is released" not in three.body

        clock.move_to(ends - timedelta(days=2))
        sweep(django_capture_on_commit_callbacks)
        assert len(mailoutbox) == 1

        clock.move_to(ends - timedelta(hours=23))
        sweep(django_capture_on_commit_callbacks)
        assert len(mailoutbox) == 2
        one = mailoutbox[1]
        assert "1 day" in one.subject
        assert link in one.body
        assert reminder_kinds(bundle) == [Kind.EXPIRY_1D, Kind.EXPIRY_3D]

        # Ended: nothing more.
        clock.move_to(ends + timedelta(hours=1))
        sweep(django_capture_on_commit_callbacks)
        assert len(mailoutbox) == 2


@pytest.mark.django_db
def test_a_number_keeping_card_is_reminded_30_7_and_1_days_before(
    django_capture_on_commit_callbacks, mailoutbox
):
    with time_machine.travel(START, tick=False) as clock:
        bundle = running_card(kind=Plan.Kind.NUMBER_KEEPING, days=90)
        ends = bundle.ends_at
        link = reminders.renew_url(bundle.profile.iccid)
        mailoutbox.clear()

        for days, expected in ((30, 1), (10, 1), (7, 2), (3, 2), (1, 3)):
            clock.move_to(ends - timedelta(days=days) + timedelta(minutes=5))
            sweep(django_capture_on_commit_callbacks)
            assert len(mailoutbox) == expected, days

        subjects = [message.subject for message in mailoutbox]
        assert ["30 days" in subjects[0], "7 days" in subjects[1], "1 day" in subjects[2]] == [
            True,
            True,
            True,
        ]
        for message in mailoutbox:
            assert "Keep your number" in message.subject
            assert link in message.body
            assert f"Keep your number: renew by {ends:%Y-%m-%d %H:%M}" in message.body
            assert "phone number is released" in message.body
        assert reminder_kinds(bundle) == [Kind.EXPIRY_1D, Kind.EXPIRY_30D, Kind.EXPIRY_7D]


@pytest.mark.django_db
def test_a_period_bought_late_gets_only_the_nearest_reminder(
    django_capture_on_commit_callbacks, mailoutbox
):
    with time_machine.travel(START, tick=False) as clock:
        bundle = running_card(days=30)
        mailoutbox.clear()
        clock.move_to(bundle.ends_at - timedelta(hours=20))
        sweep(django_capture_on_commit_callbacks)
    (message,) = mailoutbox
    assert "1 day" in message.subject
    assert reminder_kinds(bundle) == [Kind.EXPIRY_1D]


@pytest.mark.django_db
def test_the_sweep_run_twice_sends_each_reminder_once(
    django_capture_on_commit_callbacks, mailoutbox
):
    with time_machine.travel(START, tick=False) as clock:
        bundle = running_card(days=30)
        mailoutbox.clear()
        clock.move_to(bundle.ends_at - timedelta(days=3) + timedelta(minutes=1))
        sweep(django_capture_on_commit_callbacks)
        sweep(django_capture_on_commit_callbacks)
        # A task delivered twice sends nothing more either.
        assert reminders.expiry_reminder_send(bundle_id=bundle.pk, kind=Kind.EXPIRY_3D) is False
    assert len(mailoutbox) == 1
    assert Reminder.objects.filter(bundle=bundle).count() == 1


@pytest.mark.django_db
def test_a_refused_send_leaves_no_row_and_the_next_sweep_sends_it(
    django_capture_on_commit_callbacks, mailoutbox, monkeypatch
):
    with time_machine.travel(START, tick=False) as clock:
        bundle = running_card(days=30)
        mailoutbox.clear()
        clock.move_to(bundle.ends_at - timedelta(days=3) + timedelta(minutes=1))

        def refuse(**kwargs):
            raise OSError("mail server down")

        monkeypatch.setattr(reminders, "email_send", refuse)
        with pytest.raises(OSError):
            reminders.expiry_reminder_send(bundle_id=bundle.pk, kind=Kind.EXPIRY_3D)
        assert not Reminder.objects.filter(bundle=bundle).exists()

        monkeypatch.undo()
        sweep(django_capture_on_commit_callbacks)
    assert len(mailoutbox) == 1


@pytest.mark.django_db
def test_no_reminder_when_the_next_period_is_already_queued(
    django_capture_on_commit_callbacks, mailoutbox
):
    with time_machine.travel(START, tick=False) as clock:
        bundle = running_card(days=30)
        profile = bundle.profile
        # Renewed by hand early: the next period waits in the queue.
        order = order_place(
            customer=profile.owner,
            currency="USD",
            lines=[LineRequest(kind="renewal", plan=bundle.plan, profile=profile)],
        )
        order_pay_wallet(order=order)
        assert profile.bundles.filter(status=Bundle.Status.QUEUED).exists()
        mailoutbox.clear()

        for days in (3, 1):
            clock.move_to(bundle.ends_at - timedelta(days=days) + timedelta(minutes=1))
            sweep(django_capture_on_commit_callbacks)
        # A task the sweep sent before the renewal, run late, sends nothing either.
        assert reminders.expiry_reminder_send(bundle_id=bundle.pk, kind=Kind.EXPIRY_1D) is False
    assert mailoutbox == []
    assert not Reminder.objects.filter(bundle=bundle).exists()


@pytest.mark.django_db
def test_the_reminder_says_when_auto_renewal_charges(
    django_capture_on_commit_callbacks, mailoutbox
):
    with time_machine.travel(START, tick=False) as clock:
        bundle = running_card(days=30)
        profile = bundle.profile
        auto_renewal_set(customer=profile.owner, profile=profile, plan=bundle.plan, currency="USD")
        mailoutbox.clear()
        clock.move_to(bundle.ends_at - timedelta(days=3) + timedelta(minutes=1))
        sweep(django_capture_on_commit_callbacks)
    (message,) = mailoutbox
    charge_at = bundle.ends_at - timedelta(hours=24)
    assert f"renews automatically to {bundle.plan.name}" in message.body
    assert "about 24 hours before the end" in message.body
    assert f"{charge_at:%Y-%m-%d %H:%M}" in message.body
    assert reminders.renew_url(profile.iccid) in message.body


@pytest.mark.django_db
def test_a_chinese_customer_gets_the_reminder_in_chinese(
    django_capture_on_commit_callbacks, mailoutbox, monkeypatch
):
    rendered_in = []
    render = emails.render_to_string

    def recording(name, context):
        rendered_in.append((name, translation.get_language()))
        return render(name, context)

    with time_machine.travel(START, tick=False) as clock:
        bundle = running_card(days=30, language="zh-hans")
        mailoutbox.clear()
        monkeypatch.setattr(emails, "render_to_string", recording)
        clock.move_to(bundle.ends_at - timedelta(days=1) + timedelta(minutes=1))
        sweep(django_capture_on_commit_callbacks)
    (message,) = mailoutbox
    assert message.to == [bundle.profile.owner.email]
    assert bundle.profile.iccid in message.subject
    assert bundle.profile.iccid in message.body
    assert reminders.renew_url(bundle.profile.iccid) in message.body
    assert {name for name, _ in rendered_in} >= {
        "billing/email/expiry_reminder_subject.txt",
        "billing/email/expiry_reminder.txt",
    }
    assert {language for _, language in rendered_in} == {"zh-hans"}


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_send_one_reminder(monkeypatch):
    """Two beats run the sweep at the same moment, each in its own committed transactions:
    one email and one Reminder row."""
    with time_machine.travel(START, tick=False) as clock:
        bundle = running_card(days=30)
        clock.move_to(bundle.ends_at - timedelta(days=3) + timedelta(minutes=1))
        mail.outbox.clear()

        send = reminders.email_send

        def slow_send(**kwargs):
            time.sleep(0.3)  # the second sweep's insert waits on the first's row meanwhile
            send(**kwargs)

        monkeypatch.setattr(reminders, "email_send", slow_send)
        start = threading.Barrier(2)
        errors: list[BaseException] = []

        def run() -> None:
            try:
                start.wait(timeout=30)
                reminders_sweep_task()
            except BaseException as error:
                errors.append(error)
            finally:
                connection.close()

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert errors == []
    assert len(mail.outbox) == 1
    assert Reminder.objects.filter(bundle=bundle, kind=Kind.EXPIRY_3D).count() == 1


# --- Data used -----------------------------------------------------------------------------


def use(bundle: Bundle, share: float) -> None:
    Bundle.objects.filter(pk=bundle.pk).update(
        data_used_bytes=math.ceil(bundle.data_allowance_mb * MB * share)
    )


@pytest.mark.django_db
def test_usage_notices_at_80_and_100_percent_once_each(mailoutbox):
    with time_machine.travel(START, tick=False):
        bundle = running_card(days=30, data_mb=1000)
        mailoutbox.clear()
        link_part = f"?iccid={bundle.profile.iccid}"

        use(bundle, 0.5)
        assert reminders.usage_notices_send(bundle_ids=[bundle.pk]) == 0

        use(bundle, 0.8)
        assert reminders.usage_notices_send(bundle_ids=[bundle.pk]) == 1
        assert reminders.usage_notices_send(bundle_ids=[bundle.pk]) == 0
        use(bundle, 0.9)
        assert reminders.usage_notices_send(bundle_ids=[bundle.pk]) == 0

        use(bundle, 1.0)
        assert reminders.usage_notices_send(bundle_ids=[bundle.pk]) == 1
        assert reminders.usage_notices_send(bundle_ids=[bundle.pk]) == 0

    eighty, full = mailoutbox
    assert eighty.to == [bundle.profile.owner.email]
    assert f"You have used 80% of your data on {bundle.plan.name}" in eighty.subject
    assert "Data left: 200.0" in eighty.body
    assert f"{bundle.ends_at:%Y-%m-%d %H:%M}" in eighty.body
    assert link_part in eighty.body
    assert "used all the data" in full.subject
    assert link_part in full.body
    assert reminder_kinds(bundle) == [Kind.USAGE_100, Kind.USAGE_80]


@pytest.mark.django_db
def test_all_data_used_in_one_report_sends_only_the_100_percent_notice(mailoutbox):
    with time_machine.travel(START, tick=False):
        bundle = running_card(days=30, data_mb=1000)
        mailoutbox.clear()
        use(bundle, 1.2)
        assert reminders.usage_notices_send(bundle_ids=[bundle.pk]) == 1
    (message,) = mailoutbox
    assert "used all the data" in message.subject
    assert reminder_kinds(bundle) == [Kind.USAGE_100, Kind.USAGE_80]


@pytest.mark.django_db
def test_the_sweep_sends_a_usage_notice_whose_task_was_lost(
    django_capture_on_commit_callbacks, mailoutbox
):
    with time_machine.travel(START, tick=False):
        bundle = running_card(days=30, data_mb=1000)
        unlimited = running_card(days=30, data_mb=1000)
        Bundle.objects.filter(pk=unlimited.pk).update(data_allowance_mb=None, data_used_bytes=10)
        mailoutbox.clear()
        use(bundle, 0.85)
        sweep(django_capture_on_commit_callbacks)
        sweep(django_capture_on_commit_callbacks)
    (message,) = mailoutbox
    assert "85%" in message.subject
    assert reminder_kinds(bundle) == [Kind.USAGE_80]


@pytest.mark.django_db
def test_exactly_80_percent_counts_the_same_in_the_sweep_and_the_send(
    django_capture_on_commit_callbacks, mailoutbox
):
    with time_machine.travel(START, tick=False):
        bundle = running_card(days=30, data_mb=1024)
        mailoutbox.clear()
        edge = 1024 * MB * 8 // 10  # not a whole number of bytes: 858993459.2
        Bundle.objects.filter(pk=bundle.pk).update(data_used_bytes=edge)
        sweep(django_capture_on_commit_callbacks)
        assert mailoutbox == []
        Bundle.objects.filter(pk=bundle.pk).update(data_used_bytes=edge + 1)
        sweep(django_capture_on_commit_callbacks)
    (message,) = mailoutbox
    assert "80%" in message.subject
