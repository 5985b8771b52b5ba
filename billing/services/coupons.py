"""Coupons: whether one applies, what it takes off each line, and counting its uses.

A coupon is checked twice: when the customer types it (a preview, no lock) and when the order
is placed, under a lock on the coupon's row. The second check is the one that counts, so a
coupon with one use left goes to exactly one of two checkouts racing for it.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING

from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.exceptions import CouponRefused
from billing.models import Coupon, CouponRedemption, Order
from billing.money import quantum

if TYPE_CHECKING:
    from accounts.models import User


@dataclass(frozen=True)
class PricedLine:
    """A line's plan and its price before any coupon."""

    plan_id: int
    subtotal: Decimal


def coupon_normalize(code: str) -> str:
    return code.strip().upper()


def coupon_find(code: str) -> Coupon:
    coupon = Coupon.objects.filter(code=coupon_normalize(code)).first()
    if coupon is None or not coupon.is_active:
        raise CouponRefused(_("This coupon code does not exist."))
    return coupon


def coupon_discounts(
    *, coupon: Coupon, customer: "User", currency: str, lines: Sequence[PricedLine]
) -> list[Decimal]:
    """What the coupon takes off each line, or CouponRefused saying why it does not apply.

    Percentages are rounded down per line; a fixed amount is shared across the lines it
    applies to in proportion to their price, the last one taking the rounding remainder.
    """
    now = timezone.now()
    if coupon.valid_from > now:
        raise CouponRefused(_("This coupon is not valid yet."))
    if coupon.valid_until is not None and coupon.valid_until <= now:
        raise CouponRefused(_("This coupon has expired."))
    if coupon.currency and coupon.currency != currency:
        raise CouponRefused(
            _("This coupon is for payments in %(currency)s.") % {"currency": coupon.currency}
        )
    if coupon.max_uses is not None and coupon.uses >= coupon.max_uses:
        raise CouponRefused(_("This coupon has been used up."))
    if coupon.max_uses_per_customer is not None:
        used = CouponRedemption.objects.filter(coupon=coupon, customer=customer).count()
        if used >= coupon.max_uses_per_customer:
            raise CouponRefused(_("You have already used this coupon."))
    subtotal = sum((line.subtotal for line in lines), Decimal(0))
    if coupon.min_spend is not None and subtotal < coupon.min_spend:
        raise CouponRefused(
            _("This coupon needs a spend of at least %(amount)s %(currency)s.")
            % {"amount": coupon.min_spend, "currency": coupon.currency}
        )
    plan_ids = set(coupon.plans.values_list("pk", flat=True))
    eligible = [i for i, line in enumerate(lines) if not plan_ids or line.plan_id in plan_ids]
    if not eligible:
        raise CouponRefused(_("This coupon does not apply to these plans."))
    step = quantum(currency)
    discounts = [Decimal(0)] * len(lines)
    if coupon.kind == Coupon.Kind.PERCENT:
        assert coupon.percent is not None
        for i in eligible:
            discounts[i] = (lines[i].subtotal * coupon.percent / 100).quantize(step, ROUND_DOWN)
    else:
        assert coupon.amount is not None
        base = sum((lines[i].subtotal for i in eligible), Decimal(0))
        off = min(coupon.amount, base)
        left = off
        for i in eligible[:-1]:
            share = (off * lines[i].subtotal / base).quantize(step, ROUND_DOWN) if base else 0
            discounts[i] = Decimal(share)
            left -= discounts[i]
        discounts[eligible[-1]] = left
    return discounts


def coupon_redeem(*, coupon: Coupon, order: Order, discount: Decimal) -> CouponRedemption:
    """Count one use for `order`. Must run in the transaction that places the order, after
    locking the coupon and checking it again (see order_place)."""
    Coupon.objects.filter(pk=coupon.pk).update(uses=F("uses") + 1)
    return CouponRedemption.objects.create(
        coupon=coupon, customer=order.customer, order=order, discount=discount
    )


def coupon_release(*, order: Order) -> None:
    """Give back the use an unpaid order held, when the order is canceled."""
    redemption = CouponRedemption.objects.filter(order=order).first()
    if redemption is None:
        return
    Coupon.objects.select_for_update().filter(pk=redemption.coupon_id).get()
    redemption.delete()
    Coupon.objects.filter(pk=redemption.coupon_id, uses__gt=0).update(uses=F("uses") - 1)
