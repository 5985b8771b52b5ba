"""Coupons: what they take off, when they apply, counting and giving back their uses, and
canceling orders never paid."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone

from billing.exceptions import CouponRefused
from billing.models import Coupon, CouponRedemption, Order, Payment
from billing.services.orders import (
    LineRequest,
    order_cancel,
    order_pay_wallet,
    order_place,
    order_quote,
    orders_due_for_cancel,
)
from billing.tasks import orders_sweep_task
from catalog.models import Plan
from tests.billing.order_support import funded_customer, plan_for_sale

pytestmark = pytest.mark.django_db
Kind = "esim"


def coupon(code: str = "SAVE", *, plans: tuple[Plan, ...] = (), **fields) -> Coupon:
    fields.setdefault("kind", Coupon.Kind.PERCENT)
    if fields["kind"] == Coupon.Kind.PERCENT:
        fields.setdefault("percent", Decimal("10"))
    made = Coupon.objects.create(code=code, **fields)
    made.plans.set(plans)
    return made


def lines(*plans_and_quantities: tuple[Plan, int]) -> list[LineRequest]:
    return [LineRequest(kind=Kind, plan=plan, quantity=q) for plan, q in plans_and_quantities]


def place(customer, order_lines, code: str = "SAVE", currency: str = "USD") -> Order:
    return order_place(customer=customer, currency=currency, lines=order_lines, coupon_code=code)


# --- What a coupon takes off ----------------------------------------------------------


def test_a_percentage_is_taken_off_each_line_rounded_down():
    a = plan_for_sale(price="9.99")
    b = plan_for_sale(price="20.00")
    coupon(percent=Decimal("15"))
    order = place(funded_customer("0"), lines((a, 1), (b, 2)))

    # 15% of 9.99 = 1.4985 -> 1.49; of 40.00 = 6.00
    first, second = order.lines.order_by("pk")
    assert (first.discount, first.total) == (Decimal("1.49"), Decimal("8.50"))
    assert (second.discount, second.total) == (Decimal("6.00"), Decimal("34.00"))
    assert (order.subtotal, order.discount, order.total) == (
        Decimal("49.99"),
        Decimal("7.49"),
        Decimal("42.50"),
    )
    assert order.coupon.code == "SAVE"


def test_a_fixed_amount_is_shared_and_the_last_line_takes_the_remainder():
    plans = [plan_for_sale(price="10.00") for _ in range(3)]
    coupon(kind=Coupon.Kind.FIXED, amount=Decimal("10.00"), currency="USD")
    order = place(funded_customer("0"), lines(*((p, 1) for p in plans)))

    discounts = list(order.lines.order_by("pk").values_list("discount", flat=True))
    assert discounts == [Decimal("3.33"), Decimal("3.33"), Decimal("3.34")]
    assert order.discount == Decimal("10.00")
    assert order.total == Decimal("20.00")


def test_a_fixed_amount_is_shared_in_proportion_to_price():
    cheap = plan_for_sale(price="5.00")
    dear = plan_for_sale(price="15.00")
    coupon(kind=Coupon.Kind.FIXED, amount=Decimal("4.00"), currency="USD")
    order = place(funded_customer("0"), lines((cheap, 1), (dear, 1)))
    assert list(order.lines.order_by("pk").values_list("discount", flat=True)) == [
        Decimal("1.00"),
        Decimal("3.00"),
    ]


def test_a_fixed_amount_never_exceeds_the_eligible_subtotal():
    eligible = plan_for_sale(price="10.00")
    other = plan_for_sale(price="20.00")
    coupon(kind=Coupon.Kind.FIXED, amount=Decimal("50.00"), currency="USD", plans=(eligible,))
    order = place(funded_customer("0"), lines((eligible, 1), (other, 1)))

    first, second = order.lines.order_by("pk")
    assert (first.discount, first.total) == (Decimal("10.00"), Decimal("0.00"))
    assert (second.discount, second.total) == (Decimal("0.00"), Decimal("20.00"))
    assert (order.discount, order.total) == (Decimal("10.00"), Decimal("20.00"))


def test_a_plan_restricted_coupon_discounts_only_its_plans():
    eligible = plan_for_sale(price="10.00")
    other = plan_for_sale(price="10.00")
    coupon(percent=Decimal("50"), plans=(eligible,))
    order = place(funded_customer("0"), lines((other, 1), (eligible, 1)))
    assert list(order.lines.order_by("pk").values_list("discount", flat=True)) == [
        Decimal("0.00"),
        Decimal("5.00"),
    ]


def test_a_coupon_for_other_plans_is_refused():
    eligible = plan_for_sale()
    other = plan_for_sale()
    coupon(plans=(eligible,))
    with pytest.raises(CouponRefused, match="does not apply"):
        place(funded_customer("0"), lines((other, 1)))
    assert not Order.objects.exists()


# --- When a coupon applies ------------------------------------------------------------


def test_a_coupon_in_another_currency_is_refused():
    plan = plan_for_sale(currency="CNY")
    coupon(kind=Coupon.Kind.FIXED, amount=Decimal("5.00"), currency="USD")
    with pytest.raises(CouponRefused, match="payments in USD"):
        place(funded_customer("0", currency="CNY"), lines((plan, 1)), currency="CNY")
    assert not Order.objects.exists()


def test_a_percentage_coupon_with_no_currency_applies_in_any():
    plan = plan_for_sale(price="100.00", currency="CNY")
    coupon(percent=Decimal("10"))
    order = place(funded_customer("0", currency="CNY"), lines((plan, 1)), currency="CNY")
    assert order.discount == Decimal("10.00")


def test_the_minimum_spend_is_checked_on_the_subtotal():
    plan = plan_for_sale(price="10.00")
    coupon(min_spend=Decimal("20.00"), currency="USD", max_uses_per_customer=None)
    customer = funded_customer("0")
    with pytest.raises(CouponRefused, match=r"at least 20\.00 USD"):
        place(customer, lines((plan, 1)))
    assert place(customer, lines((plan, 2))).discount == Decimal("2.00")


def test_a_coupon_not_valid_yet_is_refused():
    plan = plan_for_sale()
    coupon(valid_from=timezone.now() + timedelta(hours=1))
    with pytest.raises(CouponRefused, match="not valid yet"):
        place(funded_customer("0"), lines((plan, 1)))


def test_an_expired_coupon_is_refused():
    plan = plan_for_sale()
    coupon(
        valid_from=timezone.now() - timedelta(days=2),
        valid_until=timezone.now() - timedelta(seconds=1),
    )
    with pytest.raises(CouponRefused, match="expired"):
        place(funded_customer("0"), lines((plan, 1)))


def test_a_coupon_inside_its_window_applies():
    plan = plan_for_sale(price="10.00")
    coupon(
        valid_from=timezone.now() - timedelta(days=1),
        valid_until=timezone.now() + timedelta(days=1),
    )
    assert place(funded_customer("0"), lines((plan, 1))).discount == Decimal("1.00")


def test_an_unknown_or_inactive_code_is_refused():
    plan = plan_for_sale()
    coupon(is_active=False)
    customer = funded_customer("0")
    for code in ("SAVE", "NOPE"):
        with pytest.raises(CouponRefused, match="does not exist"):
            place(customer, lines((plan, 1)), code=code)


def test_the_code_is_matched_in_any_case_and_spacing():
    plan = plan_for_sale(price="10.00")
    coupon("SUMMER-24", max_uses_per_customer=None)
    customer = funded_customer("0")
    for typed in ("summer-24", "  Summer-24 ", "SUMMER-24"):
        assert place(customer, lines((plan, 1)), code=typed).discount == Decimal("1.00")


def test_the_total_use_limit():
    plan = plan_for_sale()
    code = coupon(max_uses=2, max_uses_per_customer=None)
    for _ in range(2):
        place(funded_customer("0"), lines((plan, 1)))
    with pytest.raises(CouponRefused, match="used up"):
        place(funded_customer("0"), lines((plan, 1)))
    code.refresh_from_db()
    assert code.uses == 2
    assert CouponRedemption.objects.filter(coupon=code).count() == 2


def test_the_per_customer_limit():
    plan = plan_for_sale()
    code = coupon(max_uses_per_customer=2)
    customer = funded_customer("0")
    place(customer, lines((plan, 1)))
    place(customer, lines((plan, 1)))
    with pytest.raises(CouponRefused, match="already used"):
        place(customer, lines((plan, 1)))
    # Another customer still may.
    place(funded_customer("0"), lines((plan, 1)))
    code.refresh_from_db()
    assert code.uses == 3


def test_the_quote_previews_without_counting_a_use():
    plan = plan_for_sale(price="10.00")
    code = coupon(max_uses=1)
    quote = order_quote(
        customer=funded_customer("0"), currency="USD", lines=lines((plan, 1)), coupon_code="save"
    )
    assert (quote.discount, quote.total) == (Decimal("1.00"), Decimal("9.00"))
    code.refresh_from_db()
    assert code.uses == 0
    assert not CouponRedemption.objects.exists()


def test_placing_counts_one_use_with_its_redemption():
    plan = plan_for_sale(price="10.00")
    code = coupon()
    customer = funded_customer("0")
    token = uuid.uuid4()
    order = order_place(
        customer=customer,
        currency="USD",
        lines=lines((plan, 1)),
        coupon_code="save",
        request_token=token,
    )
    # A double submit counts nothing more.
    again = order_place(
        customer=customer,
        currency="USD",
        lines=lines((plan, 1)),
        coupon_code="save",
        request_token=token,
    )
    assert again.pk == order.pk
    code.refresh_from_db()
    assert code.uses == 1
    redemption = CouponRedemption.objects.get()
    assert (redemption.order, redemption.customer, redemption.discount) == (
        order,
        customer,
        Decimal("1.00"),
    )


# --- Orders never paid ----------------------------------------------------------------


def test_canceling_an_unpaid_order_gives_the_use_back():
    plan = plan_for_sale()
    code = coupon(max_uses=1)
    customer = funded_customer("0")
    order = place(customer, lines((plan, 1)))

    canceled = order_cancel(order_id=order.pk)

    assert canceled.status == Order.Status.CANCELED
    assert canceled.canceled_at is not None
    code.refresh_from_db()
    assert code.uses == 0
    assert not CouponRedemption.objects.exists()
    # The use can be had again, by the same customer.
    place(customer, lines((plan, 1)))
    code.refresh_from_db()
    assert code.uses == 1


def test_canceling_twice_gives_back_one_use():
    plan = plan_for_sale()
    code = coupon(max_uses=5, max_uses_per_customer=None)
    first = place(funded_customer("0"), lines((plan, 1)))
    place(funded_customer("0"), lines((plan, 1)))
    order_cancel(order_id=first.pk)
    order_cancel(order_id=first.pk)
    code.refresh_from_db()
    assert code.uses == 1
    assert CouponRedemption.objects.count() == 1


def test_a_paid_order_is_not_canceled_and_keeps_its_use():
    plan = plan_for_sale(price="10.00")
    code = coupon()
    customer = funded_customer()
    order = order_pay_wallet(order=place(customer, lines((plan, 1))))
    assert order_cancel(order_id=order.pk).status == Order.Status.FULFILLED
    code.refresh_from_db()
    assert code.uses == 1


@override_settings(SIMDESK_ORDER_PAYMENT_MINUTES=30)
def test_orders_due_for_cancel_respects_the_payment_window(django_capture_on_commit_callbacks):
    plan = plan_for_sale()
    customer = funded_customer()
    old = place(customer, lines((plan, 1)), code="")
    young = place(customer, lines((plan, 1)), code="")
    paid = order_pay_wallet(order=place(customer, lines((plan, 1)), code=""))
    now = timezone.now()
    Order.objects.filter(pk=old.pk).update(created_at=now - timedelta(minutes=31))
    Order.objects.filter(pk=young.pk).update(created_at=now - timedelta(minutes=29))
    Order.objects.filter(pk=paid.pk).update(created_at=now - timedelta(minutes=90))

    assert orders_due_for_cancel() == [old.pk]

    with django_capture_on_commit_callbacks(execute=True):
        counts = orders_sweep_task.run()
    assert counts["unpaid"] == 1
    statuses = dict(Order.objects.values_list("pk", "status"))
    assert statuses == {
        old.pk: Order.Status.CANCELED,
        young.pk: Order.Status.PENDING_PAYMENT,
        paid.pk: Order.Status.FULFILLED,
    }


def test_an_order_with_an_open_payment_is_not_canceled(django_capture_on_commit_callbacks):
    plan = plan_for_sale()
    code = coupon()
    customer = funded_customer("0")
    order = place(customer, lines((plan, 1)))
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(hours=3))
    payment = Payment.objects.create(
        customer=customer,
        purpose=Payment.Purpose.ORDER,
        order=order,
        amount=order.total,
        currency="USD",
        method=Payment.Method.SANDBOX,
        gateway=Payment.Gateway.SANDBOX,
        status=Payment.Status.PENDING,
    )

    with django_capture_on_commit_callbacks(execute=True):
        orders_sweep_task.run()
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT
    code.refresh_from_db()
    assert code.uses == 1

    # Once the payment is closed the order goes.
    Payment.objects.filter(pk=payment.pk).update(status=Payment.Status.CANCELED)
    assert order_cancel(order_id=order.pk).status == Order.Status.CANCELED
    code.refresh_from_db()
    assert code.uses == 0
