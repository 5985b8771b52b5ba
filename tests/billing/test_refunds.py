"""Refunds: what a customer may ask for, finance's decision to the wallet or to the original
payment (through the sandbox gateway), a gateway that refuses, and staff refunds."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from billing.exceptions import RefundRefused
from billing.gateways import GatewayError
from billing.gateways.sandbox import SandboxGateway, sandbox_pay
from billing.models import (
    JournalEntry,
    LedgerAccount,
    Order,
    OrderLine,
    Payment,
    Refund,
    SandboxCharge,
)
from billing.services.orders import LineRequest, order_pay_wallet, order_payment_start, order_place
from billing.services.refunds import (
    refund_approve,
    refund_issue,
    refund_reject,
    refund_request,
)
from billing.services.wallets import wallet_get
from catalog.models import Bundle, EsimProfile
from tests.billing.conftest import balance_of
from tests.billing.order_support import (
    bought_esim,
    entry_postings,
    funded_customer,
    plan_for_sale,
    sandbox_events_to,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
Purpose = LedgerAccount.Purpose
Status = Refund.Status
Destination = Refund.Destination


@pytest.fixture
def finance():
    return UserFactory(is_staff=True)


@pytest.fixture
def bought(django_capture_on_commit_callbacks):
    """A customer who paid 10.00 USD from the wallet (90.00 left) for one eSIM."""
    plan = plan_for_sale(price="10.00")
    customer = funded_customer("100.00")
    with django_capture_on_commit_callbacks(execute=True):
        order, profile = bought_esim(customer, plan)
    return customer, order, profile


def wallet_balance(customer) -> Decimal:
    return balance_of(wallet_get(user=customer, currency="USD"))


def paid_through_sandbox(client, monkeypatch, capture, *, price="12.00", quantity=1):
    """An order paid through the sandbox gateway and fulfilled; returns (customer, order)."""
    sandbox_events_to(client, monkeypatch)
    plan = plan_for_sale(price=price, stock=quantity)
    customer = funded_customer("0")
    order = order_place(
        customer=customer,
        currency="USD",
        lines=[LineRequest(kind=OrderLine.Kind.ESIM, plan=plan, quantity=quantity)],
    )
    payment = order_payment_start(
        order=order,
        method=Payment.Method.SANDBOX,
        request_token=uuid.uuid4(),
        return_url=lambda p: "/done/",
        cancel_url="/",
        webhook_url="http://testserver" + reverse("billing:webhook", args=["sandbox"]),
    )
    token = SandboxCharge.objects.get(reference=str(payment.public_id)).token
    with capture(execute=True):
        sandbox_pay(token=token)
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    return customer, order


# --- What a customer may ask for ---------------------------------------------------------


def test_a_customer_requests_a_refund_of_an_unused_esim(bought):
    customer, order, profile = bought
    refund = refund_request(customer=customer, profile=profile, reason=" Wrong country ")
    assert (refund.order, refund.profile, refund.amount, refund.currency) == (
        order,
        profile,
        Decimal("10.00"),
        "USD",
    )
    assert (refund.status, refund.reason, refund.requested_by) == (
        Status.REQUESTED,
        "Wrong country",
        customer,
    )
    assert refund.number.startswith("R")
    # Nothing moves until finance decides.
    assert wallet_balance(customer) == Decimal("90.00")
    order.refresh_from_db()
    assert order.refunded_amount == 0


@override_settings(SIMDESK_REFUND_WINDOW_DAYS=3)
def test_the_refund_window_comes_from_settings(bought):
    customer, order, profile = bought
    Order.objects.filter(pk=order.pk).update(paid_at=timezone.now() - timedelta(days=3, hours=1))
    with pytest.raises(RefundRefused, match="within 3 days"):
        refund_request(customer=customer, profile=profile, reason="")
    Order.objects.filter(pk=order.pk).update(paid_at=timezone.now() - timedelta(days=2))
    assert refund_request(customer=customer, profile=profile, reason="").pk


def test_the_default_window_is_fourteen_days(bought):
    customer, order, profile = bought
    Order.objects.filter(pk=order.pk).update(paid_at=timezone.now() - timedelta(days=15))
    with pytest.raises(RefundRefused, match="within 14 days"):
        refund_request(customer=customer, profile=profile, reason="")
    assert not Refund.objects.exists()


def test_an_installed_esim_is_not_refundable(bought):
    customer, _order, profile = bought
    EsimProfile.objects.filter(pk=profile.pk).update(status=EsimProfile.Status.INSTALLED)
    profile.refresh_from_db()
    with pytest.raises(RefundRefused, match="installed or used"):
        refund_request(customer=customer, profile=profile, reason="")


@pytest.mark.parametrize(
    "bundle_change",
    [{"data_used_bytes": 1}, {"status": Bundle.Status.ACTIVE}],
    ids=["data used", "bundle started"],
)
def test_a_used_esim_is_not_refundable(bought, bundle_change):
    customer, _order, profile = bought
    Bundle.objects.filter(profile=profile).update(**bundle_change)
    with pytest.raises(RefundRefused, match="installed or used"):
        refund_request(customer=customer, profile=profile, reason="")


def test_only_the_owner_may_ask(bought):
    _customer, _order, profile = bought
    with pytest.raises(RefundRefused, match="Only an eSIM you bought"):
        refund_request(customer=funded_customer("0"), profile=profile, reason="")
    assert not Refund.objects.exists()


def test_one_open_request_per_esim(bought):
    customer, _order, profile = bought
    refund_request(customer=customer, profile=profile, reason="first")
    with pytest.raises(RefundRefused, match="already being reviewed"):
        refund_request(customer=customer, profile=profile, reason="second")
    assert Refund.objects.count() == 1


def test_a_rejected_request_may_be_asked_again_a_refunded_one_not(bought, finance):
    customer, _order, profile = bought
    first = refund_request(customer=customer, profile=profile, reason="")
    refund_reject(refund_id=first.pk, actor=finance, note="Please try the APN settings first.")
    second = refund_request(customer=customer, profile=profile, reason="still broken")
    refund_approve(refund_id=second.pk, actor=finance, destination=Destination.WALLET)
    with pytest.raises(RefundRefused):
        refund_request(customer=customer, profile=profile, reason="again")


# --- Approving to the wallet --------------------------------------------------------------


def test_approving_to_the_wallet(bought, finance, django_capture_on_commit_callbacks, mailoutbox):
    customer, order, profile = bought
    mailoutbox.clear()
    refund = refund_request(customer=customer, profile=profile, reason="")

    with django_capture_on_commit_callbacks(execute=True):
        refund = refund_approve(
            refund_id=refund.pk, actor=finance, destination=Destination.WALLET, note="OK"
        )

    assert (refund.status, refund.destination, refund.decided_by) == (
        Status.COMPLETED,
        Destination.WALLET,
        finance,
    )
    assert refund.decided_at is not None and refund.completed_at is not None
    key = f"refund:{refund.pk}"
    entry = JournalEntry.objects.get(idempotency_key=key)
    assert (entry.kind, entry.created_by) == (JournalEntry.Kind.REFUND, finance)
    assert entry_postings(key) == {
        Purpose.SALES_REFUNDS: Decimal("10.00"),
        Purpose.CUSTOMER_WALLET: Decimal("-10.00"),
    }
    assert wallet_balance(customer) == Decimal("100.00")
    profile.refresh_from_db()
    assert profile.status == EsimProfile.Status.VOID
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.REFUNDED, Decimal("10.00"))
    (notice,) = mailoutbox
    assert notice.to == [customer.email]
    assert notice.subject == f"Refund for order {order.number}"
    assert "10.00 USD" in notice.body and profile.iccid in notice.body
    assert refund.number in notice.body


def test_refunding_one_of_two_esims_is_partial(finance, django_capture_on_commit_callbacks):
    plan = plan_for_sale(price="10.00")
    customer = funded_customer("100.00")
    order = order_pay_wallet(
        order=order_place(
            customer=customer,
            currency="USD",
            lines=[LineRequest(kind=OrderLine.Kind.ESIM, plan=plan, quantity=2)],
        )
    )
    first, second = EsimProfile.objects.filter(owner=customer).order_by("pk")
    refund = refund_request(customer=customer, profile=first, reason="")
    refund_approve(refund_id=refund.pk, actor=finance, destination=Destination.WALLET)

    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (
        Order.Status.PARTIALLY_REFUNDED,
        Decimal("10.00"),
    )
    second.refresh_from_db()
    assert second.status == EsimProfile.Status.ASSIGNED
    assert wallet_balance(customer) == Decimal("90.00")


def test_approving_a_smaller_amount(bought, finance):
    customer, order, profile = bought
    refund = refund_request(customer=customer, profile=profile, reason="")
    refund = refund_approve(
        refund_id=refund.pk, actor=finance, destination=Destination.WALLET, amount=Decimal("4.00")
    )
    assert (refund.amount, refund.status) == (Decimal("4.00"), Status.COMPLETED)
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (
        Order.Status.PARTIALLY_REFUNDED,
        Decimal("4.00"),
    )
    assert wallet_balance(customer) == Decimal("94.00")


def test_a_wallet_order_is_refunded_to_the_wallet_whatever_was_asked(bought, finance):
    customer, _order, profile = bought
    refund = refund_request(customer=customer, profile=profile, reason="")
    refund = refund_approve(refund_id=refund.pk, actor=finance, destination=Destination.ORIGINAL)
    assert (refund.destination, refund.status) == (Destination.WALLET, Status.COMPLETED)
    assert wallet_balance(customer) == Decimal("100.00")


# --- Approving to the original payment method ------------------------------------------------


def test_approving_to_the_original_payment_through_the_sandbox(
    client, monkeypatch, finance, django_capture_on_commit_callbacks, mailoutbox
):
    customer, order = paid_through_sandbox(
        client, monkeypatch, django_capture_on_commit_callbacks, price="12.00"
    )
    profile = EsimProfile.objects.get(owner=customer)
    mailoutbox.clear()
    refund = refund_request(customer=customer, profile=profile, reason="")

    with django_capture_on_commit_callbacks(execute=True):
        refund = refund_approve(
            refund_id=refund.pk,
            actor=finance,
            destination=Destination.ORIGINAL,
            amount=Decimal("5.00"),
        )

    assert (refund.status, refund.destination, refund.amount) == (
        Status.COMPLETED,
        Destination.ORIGINAL,
        Decimal("5.00"),
    )
    assert refund.gateway_refund_id.startswith("sbx_re_")
    assert entry_postings(f"refund:{refund.pk}") == {
        Purpose.SALES_REFUNDS: Decimal("5.00"),
        Purpose.GATEWAY_CLEARING: Decimal("-5.00"),
    }
    payment = order.payment
    payment.refresh_from_db()
    assert (payment.refunded_amount, payment.status) == (
        Decimal("5.00"),
        Payment.Status.PARTIALLY_REFUNDED,
    )
    charge = SandboxCharge.objects.get(reference=str(payment.public_id))
    assert charge.amount_refunded == Decimal("5.00")
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (
        Order.Status.PARTIALLY_REFUNDED,
        Decimal("5.00"),
    )
    profile.refresh_from_db()
    assert profile.status == EsimProfile.Status.VOID
    assert wallet_balance(customer) == 0  # the wallet is not where it went
    assert [m.subject for m in mailoutbox] == [f"Refund for order {order.number}"]
    assert "card or account you paid with" in mailoutbox[0].body


def test_staff_refund_the_rest_to_the_original_payment(
    client, monkeypatch, finance, django_capture_on_commit_callbacks
):
    _customer, order = paid_through_sandbox(
        client, monkeypatch, django_capture_on_commit_callbacks, price="12.00"
    )
    with django_capture_on_commit_callbacks(execute=True):
        refund_issue(
            order=order,
            amount=Decimal("12.00"),
            destination=Destination.ORIGINAL,
            actor=finance,
            reason="Customer complaint",
        )
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.REFUNDED, Decimal("12.00"))
    order.payment.refresh_from_db()
    assert (order.payment.refunded_amount, order.payment.status) == (
        Decimal("12.00"),
        Payment.Status.REFUNDED,
    )


def _assert_failed_and_given_back(refund: Refund, order: Order, profile: EsimProfile) -> None:
    refund.refresh_from_db()
    assert refund.status == Status.FAILED
    assert refund.failure_message
    assert not JournalEntry.objects.filter(idempotency_key=f"refund:{refund.pk}").exists()
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.FULFILLED, Decimal(0))
    profile.refresh_from_db()
    assert profile.status == EsimProfile.Status.ASSIGNED
    order.payment.refresh_from_db()
    assert order.payment.refunded_amount == 0


def test_a_gateway_error_gives_the_amount_back_and_fails_the_refund(
    client, monkeypatch, finance, django_capture_on_commit_callbacks, mailoutbox
):
    customer, order = paid_through_sandbox(client, monkeypatch, django_capture_on_commit_callbacks)
    profile = EsimProfile.objects.get(owner=customer)
    refund = refund_request(customer=customer, profile=profile, reason="")

    def refuse(self, **kwargs):
        raise GatewayError("card network unavailable")

    monkeypatch.setattr(SandboxGateway, "refund_create", refuse)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        result = refund_approve(
            refund_id=refund.pk, actor=finance, destination=Destination.ORIGINAL
        )

    assert result.status == Status.FAILED
    assert "card network unavailable" in result.failure_message
    _assert_failed_and_given_back(refund, order, profile)
    assert mailoutbox == []
    # The amount is free again: a refund to the wallet may now go through.
    issued = refund_issue(
        order=order,
        amount=Decimal("12.00"),
        destination=Destination.WALLET,
        actor=finance,
        reason="Gateway refund failed",
        profile=profile,
    )
    assert issued.status == Status.COMPLETED
    assert wallet_balance(customer) == Decimal("12.00")


def test_the_sandbox_refusing_more_than_its_charge_holds_fails_the_refund(
    client, monkeypatch, finance, django_capture_on_commit_callbacks
):
    customer, order = paid_through_sandbox(client, monkeypatch, django_capture_on_commit_callbacks)
    profile = EsimProfile.objects.get(owner=customer)
    # Refunded at the gateway's own dashboard, which we were never told about.
    SandboxCharge.objects.filter(reference=str(order.payment.public_id)).update(
        amount_refunded=Decimal("10.00")
    )
    refund = refund_request(customer=customer, profile=profile, reason="")
    with django_capture_on_commit_callbacks(execute=True):
        result = refund_approve(
            refund_id=refund.pk, actor=finance, destination=Destination.ORIGINAL
        )
    assert result.status == Status.FAILED
    assert "larger than what is left" in result.failure_message
    _assert_failed_and_given_back(refund, order, profile)


# --- Rejecting, deciding twice ----------------------------------------------------------------


def test_rejecting_needs_a_note(bought, finance, django_capture_on_commit_callbacks, mailoutbox):
    customer, _order, profile = bought
    refund = refund_request(customer=customer, profile=profile, reason="")
    with pytest.raises(RefundRefused, match="why"):
        refund_reject(refund_id=refund.pk, actor=finance, note="  ")
    refund.refresh_from_db()
    assert refund.status == Status.REQUESTED

    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        refund = refund_reject(refund_id=refund.pk, actor=finance, note="The eSIM was installed.")
    assert (refund.status, refund.decided_by, refund.decision_note) == (
        Status.REJECTED,
        finance,
        "The eSIM was installed.",
    )
    assert wallet_balance(customer) == Decimal("90.00")
    profile.refresh_from_db()
    assert profile.status == EsimProfile.Status.ASSIGNED
    (notice,) = mailoutbox
    assert notice.to == [customer.email]
    assert "The eSIM was installed." in notice.body


def test_a_refund_is_decided_once(bought, finance):
    customer, _order, profile = bought
    refund = refund_request(customer=customer, profile=profile, reason="")
    refund_approve(refund_id=refund.pk, actor=finance, destination=Destination.WALLET)
    with pytest.raises(RefundRefused, match="already been decided"):
        refund_approve(refund_id=refund.pk, actor=finance, destination=Destination.WALLET)
    with pytest.raises(RefundRefused, match="already been decided"):
        refund_reject(refund_id=refund.pk, actor=finance, note="no")
    assert wallet_balance(customer) == Decimal("100.00")
    assert JournalEntry.objects.filter(kind=JournalEntry.Kind.REFUND).count() == 1


def test_a_rejected_refund_cannot_be_approved(bought, finance):
    customer, order, profile = bought
    refund = refund_request(customer=customer, profile=profile, reason="")
    refund_reject(refund_id=refund.pk, actor=finance, note="no")
    with pytest.raises(RefundRefused, match="already been decided"):
        refund_approve(refund_id=refund.pk, actor=finance, destination=Destination.WALLET)
    order.refresh_from_db()
    assert order.refunded_amount == 0


def test_approving_more_than_was_paid_is_refused(bought, finance):
    customer, _order, profile = bought
    refund = refund_request(customer=customer, profile=profile, reason="")
    with pytest.raises(RefundRefused, match=r"At most 10\.00 USD"):
        refund_approve(
            refund_id=refund.pk,
            actor=finance,
            destination=Destination.WALLET,
            amount=Decimal("10.01"),
        )
    refund.refresh_from_db()
    assert refund.status == Status.REQUESTED
    assert wallet_balance(customer) == Decimal("90.00")


# --- Staff refunds ------------------------------------------------------------------------------


def test_staff_refund_above_what_is_left_is_refused_and_writes_nothing(bought, finance):
    customer, order, _profile = bought
    refund_issue(
        order=order,
        amount=Decimal("6.00"),
        destination=Destination.WALLET,
        actor=finance,
        reason="Goodwill",
    )
    entries = JournalEntry.objects.count()

    with pytest.raises(RefundRefused, match=r"At most 4\.00 USD"):
        refund_issue(
            order=order,
            amount=Decimal("4.01"),
            destination=Destination.WALLET,
            actor=finance,
            reason="Goodwill again",
        )

    assert Refund.objects.count() == 1
    assert JournalEntry.objects.count() == entries
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (
        Order.Status.PARTIALLY_REFUNDED,
        Decimal("6.00"),
    )
    assert wallet_balance(customer) == Decimal("96.00")


@pytest.mark.parametrize("amount", ["0", "-1.00", "0.001"])
def test_staff_refund_of_a_bad_amount_is_refused(bought, finance, amount):
    _customer, order, _profile = bought
    with pytest.raises(RefundRefused, match="greater than zero"):
        refund_issue(
            order=order,
            amount=Decimal(amount),
            destination=Destination.WALLET,
            actor=finance,
            reason="x",
        )
    assert not Refund.objects.exists()


def test_staff_refund_needs_a_reason(bought, finance):
    _customer, order, _profile = bought
    with pytest.raises(RefundRefused, match="reason"):
        refund_issue(
            order=order,
            amount=Decimal("1.00"),
            destination=Destination.WALLET,
            actor=finance,
            reason=" ",
        )
    assert not Refund.objects.exists()


def test_an_unpaid_order_cannot_be_refunded(finance):
    plan = plan_for_sale()
    order = order_place(
        customer=funded_customer("0"),
        currency="USD",
        lines=[LineRequest(kind=OrderLine.Kind.ESIM, plan=plan)],
    )
    with pytest.raises(RefundRefused, match="paid order"):
        refund_issue(
            order=order,
            amount=Decimal("1.00"),
            destination=Destination.WALLET,
            actor=finance,
            reason="x",
        )
    assert not Refund.objects.exists()
