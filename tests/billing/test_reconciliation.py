"""Gateway reconciliation with the sandbox: real payments and refunds through the services,
then one discrepancy of each kind injected on the gateway's side, each reported; day
boundaries; the daily task's email to finance; the admin's pages."""

import uuid
from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from djmoney.money import Money

from accounts.roles import FINANCE
from billing.gateways import GatewayError
from billing.gateways.sandbox import SandboxGateway, sandbox_pay
from billing.models import (
    JournalEntry,
    OrderLine,
    Payment,
    ReconciliationItem,
    ReconciliationRun,
    Refund,
    SandboxCharge,
    SandboxRefund,
)
from billing.services.orders import LineRequest, order_payment_start, order_place
from billing.services.payments import payment_update_apply
from billing.services.reconciliation import reconciliation_run
from billing.services.refunds import refund_issue
from billing.services.topups import topup_start
from billing.tasks import reconciliation_daily_task
from tests.billing.order_support import funded_customer, plan_for_sale, sandbox_events_to
from tests.billing.payment_support import payment_make
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
Result = ReconciliationItem.Result
WEBHOOK = "http://testserver/pay/webhooks/sandbox/"


# --- Money through the real services ---------------------------------------------------------


def sandbox_topup(customer, amount: str, capture, *, confirm: bool = True) -> Payment:
    """A wallet top-up paid on the sandbox's page; with confirm=False the webhook is lost
    (the gateway took the money, our ledger never heard)."""
    payment = topup_start(
        customer=customer,
        amount=Money(Decimal(amount), "USD"),
        method=Payment.Method.SANDBOX,
        request_token=uuid.uuid4(),
        return_url=lambda p: "/done/",
        cancel_url="/",
        webhook_url=WEBHOOK,
    )
    token = SandboxCharge.objects.get(reference=str(payment.public_id)).token
    if confirm:
        with capture(execute=True):
            sandbox_pay(token=token)
    else:
        sandbox_pay(token=token)  # its event is queued on commit, which never comes here
    payment.refresh_from_db()
    return payment


def sandbox_order(price: str, capture):
    plan = plan_for_sale(price=price)
    customer = funded_customer("0")
    order = order_place(
        customer=customer,
        currency="USD",
        lines=[LineRequest(kind=OrderLine.Kind.ESIM, plan=plan)],
    )
    payment = order_payment_start(
        order=order,
        method=Payment.Method.SANDBOX,
        request_token=uuid.uuid4(),
        return_url=lambda p: "/done/",
        cancel_url="/",
        webhook_url=WEBHOOK,
    )
    token = SandboxCharge.objects.get(reference=str(payment.public_id)).token
    with capture(execute=True):
        sandbox_pay(token=token)
    order.refresh_from_db()
    payment.refresh_from_db()
    return order, payment


def charge_of(payment: Payment) -> SandboxCharge:
    return SandboxCharge.objects.get(reference=str(payment.public_id))


def items_by_reference(run: ReconciliationRun) -> dict[str, ReconciliationItem]:
    return {item.reference: item for item in run.items.all()}


def today():
    return timezone.localdate()


@pytest.fixture
def events(client, monkeypatch):
    return sandbox_events_to(client, monkeypatch)


# --- THE test: one discrepancy of each kind -----------------------------------------------------


def test_each_kind_of_discrepancy_is_reported_and_the_rest_matches(
    events, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    finance = UserFactory(is_staff=True)
    # Matched: an order paid through the sandbox, part of it refunded to the card, and a top-up.
    order, order_payment = sandbox_order("12.00", capture)
    with capture(execute=True):
        refund = refund_issue(
            order=order,
            amount=Decimal("5.00"),
            destination=Refund.Destination.ORIGINAL,
            actor=finance,
            reason="Customer complaint",
        )
    assert refund.status == Refund.Status.COMPLETED
    customer = UserFactory()
    topup = sandbox_topup(customer, "20.00", capture)
    # Missing in the ledger: paid at the gateway, its webhook lost, never confirmed here.
    lost = sandbox_topup(customer, "30.00", capture, confirm=False)
    assert lost.status == Payment.Status.PENDING
    # Missing at the gateway: confirmed here, but the gateway has no such charge.
    vanished = sandbox_topup(customer, "40.00", capture)
    vanished_ref = vanished.gateway_payment_id
    charge_of(vanished).delete()
    # Amount mismatch: the gateway's record says 49.00 for a 50.00 capture.
    altered = sandbox_topup(customer, "50.00", capture)
    SandboxCharge.objects.filter(pk=charge_of(altered).pk).update(amount=Decimal("49.00"))
    # A refund made at the gateway only (its dashboard), none in our ledger.
    outside = SandboxGateway().refund_create(
        payment=topup, amount=Money(Decimal("3.00"), "USD"), idempotency_key="dashboard-1"
    )
    # Out of scope: a Stripe payment captured in our ledger (another gateway's run).
    stripe_payment = payment_make(
        customer, "7.00", gateway=Payment.Gateway.STRIPE, gateway_payment_id="pi_elsewhere"
    )
    with capture(execute=False):
        payment_update_apply(
            payment=stripe_payment,
            update=_succeeded(stripe_payment),
        )

    run = reconciliation_run(gateway="sandbox", start=today(), end=today(), run_by=finance)

    items = items_by_reference(run)
    found = {
        ref: (item.kind, item.result, item.ledger_amount, item.gateway_amount)
        for ref, item in items.items()
    }
    assert found == {
        order_payment.gateway_payment_id: (
            "payment",
            Result.MATCHED,
            Decimal("12.00"),
            Decimal("12.00"),
        ),
        refund.gateway_refund_id: ("refund", Result.MATCHED, Decimal("-5.00"), Decimal("-5.00")),
        topup.gateway_payment_id: ("payment", Result.MATCHED, Decimal("20.00"), Decimal("20.00")),
        lost.gateway_payment_id: ("payment", Result.MISSING_IN_LEDGER, None, Decimal("30.00")),
        vanished_ref: ("payment", Result.MISSING_AT_GATEWAY, Decimal("40.00"), None),
        altered.gateway_payment_id: (
            "payment",
            Result.AMOUNT_MISMATCH,
            Decimal("50.00"),
            Decimal("49.00"),
        ),
        outside.refund_id: ("refund", Result.MISSING_IN_LEDGER, None, Decimal("-3.00")),
    }
    assert "pi_elsewhere" not in items
    # The links finance follow.
    assert items[order_payment.gateway_payment_id].payment == order_payment
    assert items[order_payment.gateway_payment_id].entry == JournalEntry.objects.get(
        idempotency_key=f"payment:{order_payment.pk}:capture"
    )
    assert items[refund.gateway_refund_id].refund == refund
    assert items[refund.gateway_refund_id].entry.idempotency_key == f"refund:{refund.pk}"
    assert items[lost.gateway_payment_id].payment == lost  # found by the gateway's id
    assert items[lost.gateway_payment_id].entry is None
    assert items[vanished_ref].payment == vanished
    assert all(item.currency == "USD" for item in items.values())
    assert all(item.gateway_fee in (None, Decimal("0.00")) for item in items.values())
    # The run's counts, status and totals.
    assert (
        run.status,
        run.matched_count,
        run.missing_in_ledger_count,
        run.missing_at_gateway_count,
        run.mismatch_count,
        run.run_by,
    ) == (ReconciliationRun.Status.DISCREPANCIES, 3, 2, 1, 1, finance)
    assert run.totals["USD"]["gateway_gross"] == "103.00"  # 12 - 5 + 20 + 30 + 49 - 3
    assert run.totals["USD"]["ledger"] == "117.00"  # 12 - 5 + 20 + 40 + 50
    assert run.totals["USD"]["gateway_fees"] == "0.00"


def _succeeded(payment):
    from billing.gateways import PaymentUpdate

    return PaymentUpdate(status=Payment.Status.SUCCEEDED, amount=payment.amount_money)


def test_a_clean_day_is_clean_and_running_again_keeps_both_runs(
    events, django_capture_on_commit_callbacks
):
    customer = UserFactory()
    payment = sandbox_topup(customer, "25.00", django_capture_on_commit_callbacks)
    first = reconciliation_run(gateway="sandbox", start=today(), end=today(), run_by=None)
    second = reconciliation_run(gateway="sandbox", start=today(), end=today(), run_by=None)
    for run in (first, second):
        assert run.status == ReconciliationRun.Status.CLEAN
        assert (run.matched_count, run.discrepancy_count) == (1, 0)
        assert items_by_reference(run)[payment.gateway_payment_id].result == Result.MATCHED
    assert ReconciliationRun.objects.count() == 2
    # A day with nothing on either side is clean too.
    empty_day = today() - timedelta(days=10)
    empty = reconciliation_run(gateway="sandbox", start=empty_day, end=empty_day, run_by=None)
    assert (empty.status, empty.items.count()) == (ReconciliationRun.Status.CLEAN, 0)


def test_a_capture_just_before_midnight_at_the_gateway_matches_one_posted_after(
    settings, events, django_capture_on_commit_callbacks
):
    settings.TIME_ZONE = "Asia/Hong_Kong"
    customer = UserFactory()
    payment = sandbox_topup(customer, "15.00", django_capture_on_commit_callbacks)
    entry = JournalEntry.objects.get(idempotency_key=f"payment:{payment.pk}:capture")
    # The ledger posted it on its day (entries cannot be edited); the gateway says it was paid
    # one second before that day began, in the shop's time zone.
    posted_day = timezone.localtime(entry.created_at).date()
    midnight = datetime.combine(posted_day, time.min, tzinfo=timezone.get_current_timezone())
    SandboxCharge.objects.filter(pk=charge_of(payment).pk).update(
        paid_at=midnight - timedelta(seconds=1)
    )
    day_before = posted_day - timedelta(days=1)
    for day in (day_before, posted_day):
        run = reconciliation_run(gateway="sandbox", start=day, end=day, run_by=None)
        item = items_by_reference(run)[payment.gateway_payment_id]
        assert (run.status, item.result) == (ReconciliationRun.Status.CLEAN, Result.MATCHED)
    # Two days before, neither side is in range: nothing is reported.
    earlier = posted_day - timedelta(days=2)
    run = reconciliation_run(gateway="sandbox", start=earlier, end=earlier, run_by=None)
    assert run.items.count() == 0


def test_a_gateway_that_cannot_be_reached_makes_a_failed_run(monkeypatch):
    def down(self, *, start, end):
        raise GatewayError("The sandbox is down (test).")

    monkeypatch.setattr(SandboxGateway, "transactions_list", down)
    run = reconciliation_run(gateway="sandbox", start=today(), end=today(), run_by=None)
    assert (run.status, run.error, run.items.count()) == (
        ReconciliationRun.Status.FAILED,
        "The sandbox is down (test).",
        0,
    )


def test_stripe_not_configured_is_a_failed_run(settings):
    settings.STRIPE_SECRET_KEY = ""
    run = reconciliation_run(gateway="stripe", start=today(), end=today(), run_by=None)
    assert run.status == ReconciliationRun.Status.FAILED
    assert "not configured" in run.error


def test_the_sandbox_records_each_refund_once_per_key(events, django_capture_on_commit_callbacks):
    customer = UserFactory()
    payment = sandbox_topup(customer, "10.00", django_capture_on_commit_callbacks)
    gateway = SandboxGateway()
    first = gateway.refund_create(
        payment=payment, amount=Money(Decimal("4.00"), "USD"), idempotency_key="k1"
    )
    again = gateway.refund_create(
        payment=payment, amount=Money(Decimal("4.00"), "USD"), idempotency_key="k1"
    )
    assert first.refund_id == again.refund_id == "sbx_re_k1"
    assert SandboxRefund.objects.get().amount == Decimal("4.00")
    assert charge_of(payment).amount_refunded == Decimal("4.00")


def test_stripe_payout_balance_transactions_are_not_counted_twice():
    """Stripe's payouts come from the Payouts API; their balance transactions are skipped."""
    from billing.gateways.stripe import _balance_transaction

    now = timezone.now()
    row = {"id": "txn_1", "type": "payout", "amount": -5000, "currency": "usd", "source": "po_1"}
    assert _balance_transaction(row, now) is None
    charge = {
        "id": "txn_2",
        "type": "charge",
        "amount": 1000,
        "fee": 59,
        "currency": "jpy",
        "source": {"id": "ch_1", "payment_intent": "pi_1"},
    }
    found = _balance_transaction(charge, now)
    assert found is not None
    assert (found.kind, found.key, found.amount, found.fee) == (
        "payment",
        "pi_1",
        Money(1000, "JPY"),
        Money(59, "JPY"),
    )


# --- The daily task ----------------------------------------------------------------------------


@pytest.fixture
def finance_people():
    group, _ = Group.objects.get_or_create(name=FINANCE)
    active = UserFactory(email="clerk@example.com", is_staff=True)
    gone = UserFactory(email="gone@example.com", is_staff=True, is_active=False)
    group.user_set.add(active, gone)
    UserFactory(email="not-finance@example.com", is_staff=True)
    return active


def yesterday_noon():
    day = today() - timedelta(days=1)
    return datetime.combine(day, time(12), tzinfo=timezone.get_current_timezone())


def test_the_daily_task_emails_finance_when_something_does_not_match(
    settings, finance_people, mailoutbox
):
    settings.SIMDESK_FINANCE_EMAIL = "books@example.com"
    # Paid at the gateway yesterday; our ledger never heard of it.
    SandboxCharge.objects.create(
        charge_id="sbx_pi_unbooked",
        reference=str(uuid.uuid4()),
        amount=Decimal("9.00"),
        currency="USD",
        description="Wallet top-up",
        status=SandboxCharge.Status.SUCCEEDED,
        paid_at=yesterday_noon(),
    )
    run_id = reconciliation_daily_task.delay().get()

    run = ReconciliationRun.objects.get(pk=run_id)
    assert (run.start, run.end, run.run_by, run.status) == (
        today() - timedelta(days=1),
        today() - timedelta(days=1),
        None,
        ReconciliationRun.Status.DISCREPANCIES,
    )
    assert sorted(m.to[0] for m in mailoutbox) == ["books@example.com", "clerk@example.com"]
    message = mailoutbox[0]
    assert "1 discrepancy" in message.subject
    assert "Missing in the ledger: 1" in message.body
    url = settings.SIMDESK_SITE_URL + reverse(
        "admin:billing_reconciliationrun_change", args=[run.pk]
    )
    assert url in message.body
    assert "sbx_pi_unbooked" not in message.body  # counts and a link, no gateway ids
    # Run again the same day: the day's run stands, nobody is emailed twice.
    assert reconciliation_daily_task.delay().get() is None
    assert ReconciliationRun.objects.count() == 1
    assert len(mailoutbox) == 2


def test_the_daily_task_says_nothing_on_a_clean_day(settings, finance_people, mailoutbox):
    settings.SIMDESK_FINANCE_EMAIL = "books@example.com"
    run_id = reconciliation_daily_task.delay().get()
    assert ReconciliationRun.objects.get(pk=run_id).status == ReconciliationRun.Status.CLEAN
    assert mailoutbox == []


def test_the_daily_task_reports_a_failed_gateway_and_tries_again(
    monkeypatch, finance_people, mailoutbox
):
    def down(self, *, start, end):
        raise GatewayError("The sandbox is down (test).")

    monkeypatch.setattr(SandboxGateway, "transactions_list", down)
    reconciliation_daily_task.delay()
    assert [m.to for m in mailoutbox] == [["clerk@example.com"]]
    assert "failed" in mailoutbox[0].subject
    assert "The sandbox is down (test)." in mailoutbox[0].body
    monkeypatch.undo()
    reconciliation_daily_task.delay()  # the failed run does not count as done
    assert list(ReconciliationRun.objects.values_list("status", flat=True).order_by("pk")) == [
        ReconciliationRun.Status.FAILED,
        ReconciliationRun.Status.CLEAN,
    ]
    assert len(mail.outbox) == 1


def test_the_beat_runs_it_once_a_day(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["reconciliation-daily"]
    assert entry["task"] == reconciliation_daily_task.name
    assert (entry["schedule"].hour, entry["schedule"].minute) == ({2}, {30})


# --- The admin ---------------------------------------------------------------------------------


def staff_with(*codenames):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


RUN_URL = "/admin/billing/reconciliationrun/run/"


def test_url_names():
    assert reverse("admin:billing_reconciliationrun_run") == RUN_URL
    assert reverse("admin:billing_reconciliationrun_changelist").endswith("/reconciliationrun/")


def test_reconciling_from_the_admin_shows_the_run_grouped_by_result(
    client, events, django_capture_on_commit_callbacks
):
    customer = UserFactory()
    payment = sandbox_topup(customer, "20.00", django_capture_on_commit_callbacks)
    lost = sandbox_topup(customer, "30.00", django_capture_on_commit_callbacks, confirm=False)
    clerk = staff_with("run_reconciliation", "view_reconciliationrun")
    client.force_login(clerk)
    assert client.get(RUN_URL).status_code == 200
    day = today().isoformat()
    response = client.post(RUN_URL, {"gateway": "sandbox", "start": day, "end": ""})
    run = ReconciliationRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:billing_reconciliationrun_change", args=[run.pk])
    assert (run.run_by, run.start, run.end) == (clerk, today(), today())
    page = client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert "Missing in the ledger (1)" in html
    assert "Matched (1)" in html
    assert lost.gateway_payment_id in html
    assert reverse("admin:billing_payment_change", args=[payment.pk]) in html
    assert client.get(reverse("admin:billing_reconciliationrun_changelist")).status_code == 200


@pytest.mark.parametrize(
    ("data", "field_error"),
    [
        ({"gateway": "sandbox", "start": "2026-02-30"}, "Enter a valid date."),
        ({"gateway": "sandbox", "start": "", "end": ""}, "This field is required."),
        ({"gateway": "counter", "start": "2025-01-01"}, "Select a valid choice."),
        ({"gateway": "sandbox", "start": "2025-01-10", "end": "2025-01-09"}, "before the start"),
        ({"gateway": "sandbox", "start": "2025-01-01", "end": "2025-02-01"}, "at most 31 days"),
        ({"gateway": "sandbox", "start": "2999-01-01"}, "in the future"),
    ],
)
def test_bad_input_on_the_run_page_is_an_error_and_runs_nothing(client, data, field_error):
    client.force_login(staff_with("run_reconciliation"))
    response = client.post(RUN_URL, data)
    assert response.status_code == 200
    assert field_error in response.content.decode()
    assert not ReconciliationRun.objects.exists()


def test_a_31_day_range_is_accepted(client):
    client.force_login(staff_with("run_reconciliation"))
    response = client.post(
        RUN_URL, {"gateway": "sandbox", "start": "2025-01-01", "end": "2025-01-31"}
    )
    assert response.status_code == 302


def test_the_pages_need_their_permissions(client):
    client.force_login(staff_with("view_reconciliationrun"))
    assert client.get(RUN_URL).status_code == 403
    assert client.post(RUN_URL, {"gateway": "sandbox", "start": "2025-01-01"}).status_code == 403
    assert not ReconciliationRun.objects.exists()
    assert client.get(reverse("admin:billing_reconciliationrun_changelist")).status_code == 200
    client.force_login(staff_with("run_reconciliation"))
    assert client.get(reverse("admin:billing_reconciliationrun_changelist")).status_code == 403


def test_runs_are_read_only_in_the_admin(client):
    run = reconciliation_run(gateway="sandbox", start=today(), end=today(), run_by=None)
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    change = reverse("admin:billing_reconciliationrun_change", args=[run.pk])
    page = client.get(change)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert client.get(reverse("admin:billing_reconciliationrun_add")).status_code == 403
    delete = reverse("admin:billing_reconciliationrun_delete", args=[run.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
