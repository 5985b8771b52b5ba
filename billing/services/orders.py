"""Orders: placing one (prices copied onto its lines, the coupon counted), paying it from the
wallet in one transaction, paying it through a gateway, and canceling what was never paid.

Lock order, as everywhere in billing: the wallet, then the order, then the payment.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, cast
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from djmoney.money import Money

from billing.exceptions import CouponRefused, OrderRefused, PaymentError
from billing.gateways import checkout_gateway, checkout_methods
from billing.models import Coupon, JournalEntry, LedgerAccount, Order, OrderLine, Payment
from billing.money import quantum
from billing.selectors.renewals import card_running_bundle, plan_change_credit
from billing.services import payments
from billing.services.coupons import (
    PricedLine,
    coupon_discounts,
    coupon_find,
    coupon_redeem,
    coupon_release,
)
from billing.services.fulfilment import order_fulfil_locked
from billing.services.ledger import Line, ledger_post, system_account_get
from billing.services.wallets import wallet_debit, wallet_get
from catalog.models import EsimProfile, Plan, PlanPrice
from catalog.selectors import USABLE_CARD_STATUSES, bundle_to_extend

if TYPE_CHECKING:
    from collections.abc import Callable

    from accounts.models import User

Kind = OrderLine.Kind
Status = Order.Status
Purpose = LedgerAccount.Purpose

MAX_QUANTITY = 10


@dataclass(frozen=True)
class LineRequest:
    """What the customer asks for: a new eSIM, an add-on for a card, or a renewal of a card."""

    kind: str
    plan: Plan
    quantity: int = 1
    profile: EsimProfile | None = None
    starts_now: bool = False  # a plan change only: replace the current bundle now


@dataclass(frozen=True)
class Quote:
    """An order before it is placed: the prices, the coupon's share per line, tax and total."""

    currency: str
    lines: list[LineRequest]
    unit_prices: list[Decimal]
    discounts: list[Decimal]
    coupon: Coupon | None
    subtotal: Decimal
    discount: Decimal
    total: Decimal
    tax: Decimal
    tax_label: str

    def line_total(self, index: int) -> Decimal:
        line = self.lines[index]
        return self.unit_prices[index] * line.quantity - self.discounts[index]


def _price(plan: Plan, currency: str) -> Decimal:
    price = PlanPrice.objects.filter(plan=plan, price_currency=currency).first()
    if price is None or not plan.is_active:
        raise OrderRefused(
            _("%(plan)s is not sold in %(currency)s.")
            % {"plan": plan.display_name, "currency": currency}
        )
    return cast(Money, price.price).amount


def _line_check(line: LineRequest, currency: str) -> None:
    plan = line.plan
    if line.kind == Kind.ESIM:
        if plan.kind == Plan.Kind.TOPUP:
            raise OrderRefused(_("An add-on is bought for a card you already have."))
        if not 1 <= line.quantity <= MAX_QUANTITY:
            raise OrderRefused(
                _("You can buy 1 to %(max)d eSIMs at a time.") % {"max": MAX_QUANTITY}
            )
        return
    profile = line.profile
    if profile is None or profile.status not in USABLE_CARD_STATUSES:
        raise OrderRefused(_("This card has expired or was voided; it cannot be topped up."))
    if line.quantity != 1:
        raise OrderRefused(_("A card takes one add-on or renewal at a time."))
    if line.kind == Kind.ADDON:
        addon_check(addon=plan, profile=profile)
    elif line.kind == Kind.RENEWAL:
        renewal_check(plan=plan, profile=profile)
    elif line.kind == Kind.CHANGE:
        plan_change_check(plan=plan, profile=profile, currency=currency)
    else:
        raise OrderRefused(_("Unknown kind of order line."))


def addon_check(*, addon: Plan, profile: EsimProfile) -> None:
    """OrderRefused unless `addon` is an add-on for the card's plan and can apply now."""
    if addon.kind != Plan.Kind.TOPUP or not addon.fits.filter(pk=profile.plan_id).exists():
        raise OrderRefused(
            _("%(addon)s does not fit this card's plan (%(plan)s).")
            % {"addon": addon.display_name, "plan": profile.plan.display_name}
        )
    if addon.addon_mode == Plan.AddonMode.EXTEND:
        current = bundle_to_extend(profile)
        if current is None:
            raise OrderRefused(
                _("This add-on adds data to a running plan, and this card has none.")
            )


def renewal_check(*, plan: Plan, profile: EsimProfile) -> None:
    current = profile.plan
    same_coverage = plan.country == current.country and plan.region_id == current.region_id
    if plan.kind == Plan.Kind.TOPUP or not plan.renewable or not same_coverage:
        raise OrderRefused(_("%(plan)s cannot renew this card.") % {"plan": plan.display_name})


def plan_change_check(*, plan: Plan, profile: EsimProfile, currency: str) -> None:
    """OrderRefused unless the card may change to `plan`, paid in `currency`: a plan for the
    same coverage other than the one running, in the currency the running one was paid in
    (its unused share is credited to that wallet)."""
    renewal_check(plan=plan, profile=profile)
    running = card_running_bundle(profile)
    if running is not None and running.plan_id == plan.pk:
        raise OrderRefused(_("This is the card's current plan: renew it instead."))
    credit = plan_change_credit(bundle=running)
    if credit is not None and str(credit.currency) != currency:
        raise OrderRefused(
            _("Pay for the change in %(currency)s, the currency the current plan was paid in.")
            % {"currency": credit.currency}
        )


def _tax(total: Decimal, currency: str) -> tuple[Decimal, str]:
    """The tax included in `total` when the seller shows one (SIMDESK_TAX), else nothing."""
    config = settings.SIMDESK_TAX
    rate = Decimal(str(config.get("rate") or 0))
    if rate <= 0 or total <= 0:
        return Decimal(0), ""
    tax = (total - total * 100 / (100 + rate)).quantize(quantum(currency), ROUND_HALF_UP)
    label = config.get("label") or _("Tax")
    return tax, f"{label} {rate.normalize():f}%"


def order_quote(
    *, customer: "User", currency: str, lines: Sequence[LineRequest], coupon_code: str = ""
) -> Quote:
    """Price the lines in `currency` and apply the coupon; OrderRefused or CouponRefused when
    something cannot be bought. Reads only: the checkout page shows it before placing."""
    if currency not in settings.SIMDESK_CURRENCIES:
        raise OrderRefused(_("Payments in %(currency)s are not offered.") % {"currency": currency})
    if not lines:
        raise OrderRefused(_("The order is empty."))
    for line in lines:
        _line_check(line, currency)
    unit_prices = [_price(line.plan, currency) for line in lines]
    priced = [
        PricedLine(plan_id=line.plan.pk, subtotal=price * line.quantity)
        for line, price in zip(lines, unit_prices, strict=True)
    ]
    coupon = coupon_find(coupon_code) if coupon_code.strip() else None
    discounts = (
        coupon_discounts(coupon=coupon, customer=customer, currency=currency, lines=priced)
        if coupon is not None
        else [Decimal(0)] * len(lines)
    )
    subtotal = sum((p.subtotal for p in priced), Decimal(0))
    discount = sum(discounts, Decimal(0))
    tax, tax_label = _tax(subtotal - discount, currency)
    return Quote(
        currency=currency,
        lines=list(lines),
        unit_prices=unit_prices,
        discounts=discounts,
        coupon=coupon,
        subtotal=subtotal,
        discount=discount,
        total=subtotal - discount,
        tax=tax,
        tax_label=tax_label,
    )


@transaction.atomic(durable=True)
def order_place(
    *,
    customer: "User",
    currency: str,
    lines: Sequence[LineRequest],
    coupon_code: str = "",
    request_token: UUID | None = None,
) -> Order:
    """Place an order waiting for payment: prices copied onto the lines, the coupon counted.

    The same `request_token` gives back the order it already placed (a double submit).
    """
    return order_create(
        customer=customer,
        currency=currency,
        lines=lines,
        coupon_code=coupon_code,
        request_token=request_token,
    )


def order_create(
    *,
    customer: "User",
    currency: str,
    lines: Sequence[LineRequest],
    coupon_code: str = "",
    request_token: UUID | None = None,
) -> Order:
    """The work of order_place inside the caller's transaction (auto-renewal's)."""
    if request_token is not None:
        existing = Order.objects.filter(customer=customer, request_token=request_token).first()
        if existing is not None:
            return existing
    quote = order_quote(customer=customer, currency=currency, lines=lines, coupon_code=coupon_code)
    if quote.coupon is not None:
        # Check again under the coupon's lock: this is the check that counts.
        coupon = Coupon.objects.select_for_update().get(pk=quote.coupon.pk)
        if not coupon.is_active:
            raise CouponRefused(_("This coupon code does not exist."))
        quote = order_quote(
            customer=customer, currency=currency, lines=lines, coupon_code=coupon_code
        )
    try:
        with transaction.atomic():
            order = Order.objects.create(
                customer=customer,
                currency=currency,
                subtotal=quote.subtotal,
                discount=quote.discount,
                total=quote.total,
                tax=quote.tax,
                tax_label=quote.tax_label,
                coupon=quote.coupon,
                request_token=request_token,
            )
    except IntegrityError:
        # The same token placed an order meanwhile, in a transaction that committed first.
        return Order.objects.get(customer=customer, request_token=request_token)
    OrderLine.objects.bulk_create(
        OrderLine(
            order=order,
            kind=line.kind,
            plan=line.plan,
            profile=line.profile,
            quantity=line.quantity,
            unit_price=quote.unit_prices[i],
            discount=quote.discounts[i],
            total=quote.line_total(i),
            description=line.plan.name,
            starts_now=line.starts_now,
        )
        for i, line in enumerate(lines)
    )
    if quote.coupon is not None:
        coupon_redeem(coupon=quote.coupon, order=order, discount=quote.discount)
    return order


def _payable(order: Order) -> bool:
    """False for an order already paid (a second click: nothing to do); OrderRefused for one
    that can no longer be paid."""
    if order.is_paid:
        return False
    if order.status != Status.PENDING_PAYMENT:
        raise OrderRefused(_("This order was canceled; please place a new one."))
    return True


@transaction.atomic(durable=True)
def order_pay_wallet(*, order: Order) -> Order:
    """Pay from the wallet and deliver, all or nothing: lock the wallet, then the order;
    debit the wallet against sales revenue; mark paid; allocate the profiles and create the
    bundles. InsufficientFunds (with the shortfall) leaves everything as it was."""
    wallet = wallet_get(user=order.customer, currency=order.currency)
    LedgerAccount.objects.select_for_update().filter(pk=wallet.pk).get()
    order = Order.objects.select_for_update().get(pk=order.pk)
    if not _payable(order):
        return order
    order_pay_wallet_locked(order, wallet, idempotency_key=f"order:{order.pk}:sale")
    return order


def order_pay_wallet_locked(order: Order, wallet: LedgerAccount, *, idempotency_key: str) -> None:
    """Debit the wallet for the order, mark it paid and deliver it: inside the caller's
    transaction, with the wallet and then the order locked."""
    if order.total > 0:
        wallet_debit(
            wallet=wallet,
            amount=order.total_money,
            destination=Purpose.SALES_REVENUE,
            idempotency_key=idempotency_key,
            kind=JournalEntry.Kind.PURCHASE,
            memo=f"Order {order.number}",
        )
    _order_mark_paid(order, paid_with=Order.PaidWith.WALLET)
    order_fulfil_locked(order)


def _order_mark_paid(order: Order, *, paid_with: str, payment: Payment | None = None) -> None:
    order.status = Status.PAID
    order.paid_with = paid_with
    order.payment = payment
    order.paid_at = timezone.now()
    order.save(update_fields=["status", "paid_with", "payment", "paid_at"])


def order_payment_start(
    *,
    order: Order,
    method: str,
    request_token: UUID,
    return_url: "Callable[[Payment], str]",
    cancel_url: str,
    webhook_url: str,
) -> Payment:
    """Open a gateway payment for the order's total; fulfilment runs when it is captured.
    The same `request_token` gives back the same payment."""
    if method not in checkout_methods():
        raise PaymentError(_("This payment method is not available."))
    if not _payable(order):
        raise OrderRefused(_("This order is already paid."))
    if order.total <= 0:
        raise OrderRefused(_("This order is free: confirm it with the wallet button."))
    gateway = checkout_gateway()
    try:
        with transaction.atomic():
            payment = Payment.objects.create(
                customer=order.customer,
                purpose=Payment.Purpose.ORDER,
                order=order,
                amount=order.total,
                currency=order.currency,
                method=method,
                gateway=gateway.name,
                request_token=request_token,
            )
    except IntegrityError:
        payment = Payment.objects.get(customer=order.customer, request_token=request_token)
    return payments.payment_checkout_open(
        payment=payment,
        gateway=gateway,
        return_url=return_url(payment),
        cancel_url=cancel_url,
        webhook_url=webhook_url,
    )


def _order_capture_post(payment: Payment, wallet: LedgerAccount) -> JournalEntry:
    """An order's payment was captured (the order is locked by payment_update_apply).

    An order still waiting is paid by it: gateway clearing against sales revenue, then
    fulfilment after commit. An order already paid (by the wallet, or another payment) or
    canceled keeps the money for the customer: it goes to their wallet, never lost.
    """
    assert payment.order_id is not None
    order = Order.objects.get(pk=payment.order_id)
    currency = payment.currency
    clearing = system_account_get(purpose=Purpose.GATEWAY_CLEARING, currency=currency)
    key = f"payment:{payment.pk}:capture"
    if order.status == Status.PENDING_PAYMENT:
        entry = ledger_post(
            lines=[
                Line(clearing, payment.amount_money),
                Line(
                    system_account_get(purpose=Purpose.SALES_REVENUE, currency=currency),
                    -payment.amount_money,
                ),
            ],
            idempotency_key=key,
            kind=JournalEntry.Kind.PURCHASE,
            memo=f"Order {order.number}, payment {payment.receipt_number}",
            payment=payment,
        )
        _order_mark_paid(order, paid_with=Order.PaidWith.GATEWAY, payment=payment)
        transaction.on_commit(lambda: _fulfil_enqueue(order.pk))
        return entry
    return ledger_post(
        lines=[Line(clearing, payment.amount_money), Line(wallet, -payment.amount_money)],
        idempotency_key=key,
        kind=JournalEntry.Kind.TOPUP,
        memo=f"Payment {payment.receipt_number} for order {order.number}, which was already "
        f"{order.status}: credited to the wallet",
        payment=payment,
    )


payments.CAPTURE_HANDLERS[Payment.Purpose.ORDER] = _order_capture_post


def _fulfil_enqueue(order_id: int) -> None:
    from billing.tasks import order_fulfil_task

    order_fulfil_task.delay(order_id)


# --- Orders never paid --------------------------------------------------------


def orders_due_for_cancel(*, limit: int = 500) -> list[int]:
    """Orders waiting for payment longer than SIMDESK_ORDER_PAYMENT_MINUTES."""
    cutoff = timezone.now() - timedelta(minutes=settings.SIMDESK_ORDER_PAYMENT_MINUTES)
    return list(
        Order.objects.filter(status=Status.PENDING_PAYMENT, created_at__lt=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )


@transaction.atomic(durable=True)
def order_cancel(*, order_id: int) -> Order:
    """Cancel an unpaid order and give back its coupon use. An order with a payment still
    open at the gateway waits: the payment sweeper settles that payment first."""
    order = Order.objects.select_for_update().get(pk=order_id)
    order_cancel_locked(order)
    return order


def order_cancel_locked(order: Order) -> None:
    """The work of order_cancel, with the order locked by the caller."""
    if order.status != Status.PENDING_PAYMENT:
        return
    if Payment.objects.filter(order=order, status__in=Payment.OPEN).exists():
        return
    order.status = Status.CANCELED
    order.canceled_at = timezone.now()
    order.save(update_fields=["status", "canceled_at"])
    coupon_release(order=order)
