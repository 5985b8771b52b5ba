"""Fulfilment: idempotent delivery, waiting for stock (staff alerted, delivered when stock
arrives, refunded after the wait), and add-ons and renewals on a customer's card."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone

from billing.models import Delivery, JournalEntry, LedgerAccount, Order, OrderLine, Refund
from billing.services.fulfilment import order_fulfil, orders_stock_expired
from billing.services.orders import LineRequest, order_pay_wallet, order_place
from billing.services.refunds import OUT_OF_STOCK, order_stock_timeout_refund
from billing.services.wallets import wallet_get
from billing.tasks import orders_awaiting_stock_task, orders_sweep_task
from catalog.importing import profiles_import
from catalog.models import Bundle, EsimProfile, Plan
from tests.billing.conftest import balance_of
from tests.billing.order_support import (
    addon_for,
    bought_esim,
    entry_postings,
    funded_customer,
    plan_for_sale,
    reseller_staff_user,
)
from tests.catalog.factories import iccid, make_profiles
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
Purpose = LedgerAccount.Purpose
Kind = OrderLine.Kind
Status = Order.Status


def esim(plan: Plan, quantity: int = 1) -> LineRequest:
    return LineRequest(kind=Kind.ESIM, plan=plan, quantity=quantity)


def place(customer, *lines: LineRequest) -> Order:
    return order_place(customer=customer, currency="USD", lines=list(lines))


def counts() -> tuple[int, int, int, int]:
    return (
        EsimProfile.objects.exclude(status=EsimProfile.Status.AVAILABLE).count(),
        Bundle.objects.count(),
        Delivery.objects.count(),
        JournalEntry.objects.filter(kind=JournalEntry.Kind.COST_OF_SALE).count(),
    )


def mark_paid(order: Order) -> None:
    """Paid, not yet fulfilled (as after a gateway capture, before its task ran)."""
    Order.objects.filter(pk=order.pk).update(
        status=Status.PAID, paid_at=timezone.now(), paid_with=Order.PaidWith.GATEWAY
    )


# --- Idempotent -------------------------------------------------------------------------


def test_fulfilling_twice_delivers_once(django_capture_on_commit_callbacks, mailoutbox):
    plan = plan_for_sale(stock=5)
    order = place(funded_customer("0"), esim(plan, 2))
    mark_paid(order)

    with django_capture_on_commit_callbacks(execute=True):
        first = order_fulfil(order_id=order.pk)
    after_first = counts()
    with django_capture_on_commit_callbacks(execute=True):
        second = order_fulfil(order_id=order.pk)

    assert first.status == second.status == Status.FULFILLED
    assert after_first == (2, 2, 2, 1)
    assert counts() == after_first
    assert EsimProfile.objects.filter(plan=plan, status=EsimProfile.Status.AVAILABLE).count() == 3
    assert len(mailoutbox) == 1


def test_an_unpaid_order_is_not_fulfilled():
    plan = plan_for_sale()
    order = place(funded_customer("0"), esim(plan))
    assert order_fulfil(order_id=order.pk).status == Status.PENDING_PAYMENT
    assert counts() == (0, 0, 0, 0)


def test_a_line_delivered_is_not_delivered_again_while_another_waits(
    django_capture_on_commit_callbacks,
):
    in_stock = plan_for_sale(stock=3)
    sold_out = plan_for_sale(stock=0)
    customer = funded_customer()
    with django_capture_on_commit_callbacks(execute=True):
        order = order_pay_wallet(order=place(customer, esim(in_stock), esim(sold_out)))
    assert order.status == Status.AWAITING_STOCK
    assert counts() == (1, 1, 1, 1)

    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            assert order_fulfil(order_id=order.pk).status == Status.AWAITING_STOCK
    assert counts() == (1, 1, 1, 1)
    first, second = order.lines.order_by("pk")
    assert first.fulfilled_at is not None and second.fulfilled_at is None


# --- Out of stock -----------------------------------------------------------------------


def test_out_of_stock_waits_and_alerts_reseller_staff(
    django_capture_on_commit_callbacks, mailoutbox
):
    staff = reseller_staff_user()
    not_staff_flag = UserFactory()  # in the group but not staff: not emailed
    not_staff_flag.groups.set(staff.groups.all())
    UserFactory(is_staff=True)  # staff, other role: not emailed
    plan = plan_for_sale(price="10.00", stock=1)
    customer = funded_customer("50.00")
    order = place(customer, esim(plan, 2))

    with django_capture_on_commit_callbacks(execute=True):
        order_pay_wallet(order=order)

    order.refresh_from_db()
    assert order.status == Status.AWAITING_STOCK
    assert order.awaiting_stock_since is not None and order.fulfilled_at is None
    # Charged once; nothing allocated (a line is delivered whole or not at all).
    assert balance_of(wallet_get(user=customer, currency="USD")) == Decimal("30.00")
    assert EsimProfile.objects.filter(status=EsimProfile.Status.AVAILABLE).count() == 1
    assert counts() == (0, 0, 0, 0)
    (alert,) = mailoutbox
    assert alert.to == [staff.email]
    assert alert.subject == f"Order {order.number} is waiting for stock"
    assert plan.code in alert.body and customer.email in alert.body
    assert "2 eSIMs" in alert.body

    # Paying again or fulfilling again charges nothing more and alerts nobody again.
    with django_capture_on_commit_callbacks(execute=True):
        order_pay_wallet(order=order)
        order_fulfil(order_id=order.pk)
    assert balance_of(wallet_get(user=customer, currency="USD")) == Decimal("30.00")
    assert JournalEntry.objects.filter(kind=JournalEntry.Kind.PURCHASE).count() == 1
    assert len(mailoutbox) == 1


def test_stock_arriving_by_import_fulfils_the_waiting_order(
    django_capture_on_commit_callbacks, mailoutbox
):
    clerk = reseller_staff_user()
    plan = plan_for_sale(stock=0, code="jp-wait")
    customer = funded_customer()
    with django_capture_on_commit_callbacks(execute=True):
        order = order_pay_wallet(order=place(customer, esim(plan)))
    assert order.status == Status.AWAITING_STOCK
    mailoutbox.clear()

    data = f"iccid,activation_code,plan\n{iccid(777)},LPA:1$smdp.example.com$MID-777,jp-wait\n"
    with django_capture_on_commit_callbacks(execute=True):
        profiles_import(data=data, file_name="restock.csv", actor=clerk)

    order.refresh_from_db()
    assert order.status == Status.FULFILLED
    profile = EsimProfile.objects.get(deliveries__line__order=order)
    assert (profile.iccid, profile.owner, profile.status) == (
        iccid(777),
        customer,
        EsimProfile.Status.ASSIGNED,
    )
    (delivery_email,) = mailoutbox
    assert delivery_email.to == [customer.email]
    assert "LPA:1$smdp.example.com$MID-777" in delivery_email.body


def test_the_awaiting_stock_task_fulfils_once_profiles_exist(
    django_capture_on_commit_callbacks, mailoutbox
):
    plan = plan_for_sale(stock=0)
    customer = funded_customer()
    with django_capture_on_commit_callbacks(execute=True):
        order = order_pay_wallet(order=place(customer, esim(plan)))
        assert orders_awaiting_stock_task.run() == 1  # nothing yet
    order.refresh_from_db()
    assert order.status == Status.AWAITING_STOCK

    make_profiles(plan, 2, start=900_000)
    with django_capture_on_commit_callbacks(execute=True):
        assert orders_awaiting_stock_task.run() == 1
    order.refresh_from_db()
    assert order.status == Status.FULFILLED
    assert orders_awaiting_stock_task.run() == 0
    assert [m.to for m in mailoutbox] == [[customer.email]]
    line = order.lines.get()
    assert entry_postings(f"orderline:{line.pk}:cost:USD") == {
        Purpose.COST_OF_SALES: Decimal("3.20"),
        Purpose.ESIM_INVENTORY: Decimal("-3.20"),
    }


@override_settings(SIMDESK_AWAITING_STOCK_HOURS=2)
def test_after_the_wait_the_sweep_refunds_to_the_wallet_once(
    django_capture_on_commit_callbacks, mailoutbox
):
    plan = plan_for_sale(price="10.00", stock=0)
    customer = funded_customer("50.00")
    with django_capture_on_commit_callbacks(execute=True):
        order = order_pay_wallet(order=place(customer, esim(plan, 2)))
    wallet = wallet_get(user=customer, currency="USD")
    assert balance_of(wallet) == Decimal("30.00")
    mailoutbox.clear()

    Order.objects.filter(pk=order.pk).update(
        awaiting_stock_since=timezone.now() - timedelta(hours=1, minutes=59)
    )
    assert orders_stock_expired() == []
    Order.objects.filter(pk=order.pk).update(
        awaiting_stock_since=timezone.now() - timedelta(hours=2, minutes=1)
    )
    assert orders_stock_expired() == [order.pk]

    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            orders_sweep_task.run()

    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Status.REFUNDED, Decimal("20.00"))
    refund = Refund.objects.get()
    assert (refund.amount, refund.destination, refund.status, refund.reason) == (
        Decimal("20.00"),
        Refund.Destination.WALLET,
        Refund.Status.COMPLETED,
        OUT_OF_STOCK,
    )
    assert balance_of(wallet) == Decimal("50.00")
    assert entry_postings(f"refund:{refund.pk}") == {
        Purpose.SALES_REFUNDS: Decimal("20.00"),
        Purpose.CUSTOMER_WALLET: Decimal("-20.00"),
    }
    (notice,) = mailoutbox
    assert notice.to == [customer.email]
    assert order.number in notice.subject
    assert "20.00 USD" in notice.body and "out of stock" in notice.body
    # Late stock does not deliver a refunded order.
    make_profiles(plan, 2, start=910_000)
    assert order_fulfil(order_id=order.pk).status == Status.REFUNDED
    assert order_stock_timeout_refund(order_id=order.pk) is None
    assert Refund.objects.count() == 1


def test_the_timeout_refunds_only_what_was_not_delivered(django_capture_on_commit_callbacks):
    in_stock = plan_for_sale(price="10.00", stock=1)
    sold_out = plan_for_sale(price="7.00", stock=0)
    customer = funded_customer("50.00")
    with django_capture_on_commit_callbacks(execute=True):
        order = order_pay_wallet(order=place(customer, esim(in_stock), esim(sold_out)))
        refund = order_stock_timeout_refund(order_id=order.pk)
    assert refund is not None and refund.amount == Decimal("7.00")
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (
        Status.PARTIALLY_REFUNDED,
        Decimal("7.00"),
    )
    assert balance_of(wallet_get(user=customer, currency="USD")) == Decimal("40.00")
    # The delivered eSIM stays the customer's.
    assert EsimProfile.objects.get(owner=customer).status == EsimProfile.Status.ASSIGNED


# --- Add-ons and renewals on a card -------------------------------------------------------


def _running(profile: EsimProfile, days_left: int = 10) -> Bundle:
    bundle = Bundle.objects.get(profile=profile)
    now = timezone.now()
    bundle.status = Bundle.Status.ACTIVE
    bundle.starts_at = now - timedelta(days=1)
    bundle.ends_at = now + timedelta(days=days_left)
    bundle.data_used_bytes = 10 * 1024 * 1024
    bundle.save()
    return bundle


def test_a_queue_addon_is_queued_after_the_current_bundle(
    django_capture_on_commit_callbacks, mailoutbox
):
    plan = plan_for_sale()
    addon = addon_for(plan, price="3.00", data_mb=2048)
    customer = funded_customer()
    _order, profile = bought_esim(customer, plan)
    current = _running(profile)

    order = place(customer, LineRequest(kind=Kind.ADDON, plan=addon, profile=profile))
    with django_capture_on_commit_callbacks(execute=True):
        order = order_pay_wallet(order=order)

    assert order.status == Status.FULFILLED
    current.refresh_from_db()
    assert (current.status, current.data_allowance_mb) == (Bundle.Status.ACTIVE, plan.data_mb)
    new = Bundle.objects.exclude(pk=current.pk).get()
    assert (new.profile, new.plan, new.status, new.data_allowance_mb) == (
        profile,
        addon,
        Bundle.Status.QUEUED,
        2048,
    )
    assert new.starts_at == current.ends_at
    delivery = Delivery.objects.get(line__order=order)
    assert (delivery.profile, delivery.bundle) == (profile, new)
    # No new eSIM was allocated for an add-on.
    assert EsimProfile.objects.filter(owner=customer).count() == 1
    (message,) = mailoutbox
    assert profile.iccid in message.body
    assert "current plan ends" in message.body


def test_a_queue_addon_behind_a_bundle_not_started_has_no_start_yet(
    django_capture_on_commit_callbacks,
):
    plan = plan_for_sale()
    addon = addon_for(plan)
    customer = funded_customer()
    _order, profile = bought_esim(customer, plan)  # its bundle waits for the first connection
    with django_capture_on_commit_callbacks(execute=True):
        order_pay_wallet(
            order=place(customer, LineRequest(kind=Kind.ADDON, plan=addon, profile=profile))
        )
    new = Bundle.objects.filter(plan=addon).get()
    assert (new.status, new.starts_at) == (Bundle.Status.QUEUED, None)


def test_an_extend_addon_adds_its_data_to_the_current_bundle(
    django_capture_on_commit_callbacks, mailoutbox
):
    plan = plan_for_sale(data_mb=5120)
    addon = addon_for(plan, mode=Plan.AddonMode.EXTEND, data_mb=1024)
    customer = funded_customer()
    _order, profile = bought_esim(customer, plan)
    current = _running(profile)

    with django_capture_on_commit_callbacks(execute=True):
        order = order_pay_wallet(
            order=place(customer, LineRequest(kind=Kind.ADDON, plan=addon, profile=profile))
        )

    current.refresh_from_db()
    assert current.data_allowance_mb == 6144
    assert current.status == Bundle.Status.ACTIVE
    assert Bundle.objects.filter(profile=profile).count() == 1
    delivery = Delivery.objects.get(line__order=order)
    assert (delivery.profile, delivery.bundle) == (profile, None)
    assert "added to the plan running now" in mailoutbox[0].body


def test_an_extend_addon_revives_a_depleted_bundle():
    plan = plan_for_sale(data_mb=1024)
    addon = addon_for(plan, mode=Plan.AddonMode.EXTEND, data_mb=1024)
    customer = funded_customer()
    _order, profile = bought_esim(customer, plan)
    current = _running(profile)
    Bundle.objects.filter(pk=current.pk).update(status=Bundle.Status.DEPLETED)
    order_pay_wallet(
        order=place(customer, LineRequest(kind=Kind.ADDON, plan=addon, profile=profile))
    )
    current.refresh_from_db()
    assert (current.status, current.data_allowance_mb) == (Bundle.Status.ACTIVE, 2048)


def test_a_renewal_queues_a_bundle_of_the_plan():
    plan = plan_for_sale(data_mb=3072)
    customer = funded_customer()
    _order, profile = bought_esim(customer, plan)
    current = _running(profile, days_left=3)

    order = order_pay_wallet(
        order=place(customer, LineRequest(kind=Kind.RENEWAL, plan=plan, profile=profile))
    )

    assert order.status == Status.FULFILLED
    renewal = Bundle.objects.exclude(pk=current.pk).get()
    assert (renewal.plan, renewal.status, renewal.data_allowance_mb, renewal.starts_at) == (
        plan,
        Bundle.Status.QUEUED,
        3072,
        current.ends_at,
    )
    # A renewal takes no new profile from stock.
    assert EsimProfile.objects.filter(owner=customer).count() == 1


def test_an_addons_cost_is_owed_to_the_supplier():
    plan = plan_for_sale()
    addon = addon_for(plan)  # wholesale 3.20 USD
    customer = funded_customer()
    _order, profile = bought_esim(customer, plan)
    order = order_pay_wallet(
        order=place(customer, LineRequest(kind=Kind.ADDON, plan=addon, profile=profile))
    )
    line = order.lines.get()
    assert entry_postings(f"orderline:{line.pk}:cost:USD") == {
        Purpose.COST_OF_SALES: Decimal("3.20"),
        Purpose.SUPPLIER_PAYABLE: Decimal("-3.20"),
    }
    entry = JournalEntry.objects.get(idempotency_key=f"orderline:{line.pk}:cost:USD")
    assert entry.kind == JournalEntry.Kind.COST_OF_SALE


def test_a_partial_refund_while_waiting_keeps_the_order_waiting(
    django_capture_on_commit_callbacks,
):
    """The delivered eSIM is refunded while the other line still waits: the waiting line is
    still delivered when stock comes, or refunded after the wait, never forgotten."""
    from billing.services.refunds import refund_approve, refund_request

    in_stock = plan_for_sale(price="10.00", stock=1)
    sold_out = plan_for_sale(price="7.00", stock=0)
    customer = funded_customer("50.00")
    finance = UserFactory(is_staff=True)
    with django_capture_on_commit_callbacks(execute=True):
        order = order_pay_wallet(order=place(customer, esim(in_stock), esim(sold_out)))
    delivered = EsimProfile.objects.get(owner=customer)
    request = refund_request(customer=customer, profile=delivered, reason="")
    with django_capture_on_commit_callbacks(execute=True):
        refund_approve(refund_id=request.pk, actor=finance, destination="wallet")

    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Status.AWAITING_STOCK, Decimal("10.00"))
    with django_capture_on_commit_callbacks(execute=True):
        timeout = order_stock_timeout_refund(order_id=order.pk)
    assert timeout is not None and timeout.amount == Decimal("7.00")
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Status.REFUNDED, Decimal("17.00"))
    assert balance_of(wallet_get(user=customer, currency="USD")) == Decimal("50.00")


def test_the_timeout_refund_never_exceeds_what_is_left(django_capture_on_commit_callbacks):
    from billing.services.refunds import refund_issue

    plan = plan_for_sale(price="10.00", stock=0)
    customer = funded_customer("50.00")
    with django_capture_on_commit_callbacks(execute=True):
        order = order_pay_wallet(order=place(customer, esim(plan)))
        refund_issue(
            order=order,
            amount=Decimal("8.00"),
            destination="wallet",
            actor=UserFactory(is_staff=True),
            reason="Sorry for the wait",
        )
    order.refresh_from_db()
    assert order.status == Status.AWAITING_STOCK
    with django_capture_on_commit_callbacks(execute=True):
        timeout = order_stock_timeout_refund(order_id=order.pk)
    assert timeout is not None and timeout.amount == Decimal("2.00")
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Status.REFUNDED, Decimal("10.00"))
    assert balance_of(wallet_get(user=customer, currency="USD")) == Decimal("50.00")


def test_the_sweep_delivers_an_order_paid_but_left_undelivered(
    django_capture_on_commit_callbacks,
):
    # A paid order whose fulfilment task was lost: paid more than 5 minutes ago, not delivered.
    plan = plan_for_sale(stock=1)
    customer = funded_customer()
    order = order_place(customer=customer, currency="USD", lines=[LineRequest("esim", plan)])
    Order.objects.filter(pk=order.pk).update(
        status=Order.Status.PAID,
        paid_with=Order.PaidWith.GATEWAY,
        paid_at=timezone.now() - timedelta(minutes=6),
    )
    recent = order_place(customer=customer, currency="USD", lines=[LineRequest("esim", plan)])
    Order.objects.filter(pk=recent.pk).update(
        status=Order.Status.PAID, paid_with=Order.PaidWith.GATEWAY, paid_at=timezone.now()
    )

    with django_capture_on_commit_callbacks(execute=True):
        orders_sweep_task()

    assert Order.objects.get(pk=order.pk).status == Order.Status.FULFILLED
    assert Order.objects.get(pk=recent.pk).status == Order.Status.PAID  # its task may still run
    assert EsimProfile.objects.get(plan=plan).owner == customer
