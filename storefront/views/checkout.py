"""Buying an eSIM: the plan's page, the checkout, the order's page (pay from the wallet or at a
gateway, then what was delivered), the order history and the receipt.

Each view: a form validates (every 4xx comes from it), one service call, then a redirect or a
page. Orders are looked up through the customer's own selectors, so another customer's order is
a 404.
"""

from decimal import ROUND_CEILING, Decimal
from typing import Any, cast
from uuid import UUID

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View
from djmoney.money import Money

from accounts.currency import currency_of
from accounts.mixins import VerifiedEmailRequiredMixin
from billing.exceptions import InsufficientFunds, OrderError, PaymentError
from billing.gateways import checkout_gateway
from billing.models import Order
from billing.money import UnsupportedCurrency, quantum
from billing.selectors.ledger import wallet_balance
from billing.selectors.orders import (
    customer_order,
    customer_order_receipt,
    customer_orders,
    order_last_payment,
    order_open_payment,
    plan_on_sale,
)
from billing.services.orders import order_pay_wallet, order_payment_start, order_place
from billing.services.topups import topup_currencies, topup_limits
from catalog.models import Plan
from storefront.forms.checkout import (
    APPLY,
    CheckoutForm,
    OrderPayForm,
    plan_currencies,
    plan_currency,
)
from storefront.views.common import customer_of

ORDERS_PAGE_SIZE = 20
MB_PER_GB = 1024


def _plan_or_404(code: str) -> Plan:
    plan = plan_on_sale(code=code)
    if plan is None:
        raise Http404
    return plan


def _order_or_404(request: HttpRequest, public_id: UUID) -> Order:
    order = customer_order(user=customer_of(request), public_id=public_id)
    if order is None:
        raise Http404
    return order


def data_label(megabytes: int) -> str:
    """5120 -> "5 GB", 1536 -> "1.5 GB", 500 -> "500 MB"."""
    if megabytes >= MB_PER_GB:
        gigabytes = (Decimal(megabytes) / MB_PER_GB).quantize(Decimal("0.1")).normalize()
        return _("%(size)s GB") % {"size": f"{gigabytes:f}"}
    return _("%(size)s MB") % {"size": megabytes}


def plan_price(plan: Plan, currency: str) -> Money | None:
    """The plan's price in `currency`, from its prefetched prices."""
    for price in plan.prices.all():
        money = cast(Money, price.price)
        if money.currency.code == currency:
            return money
    return None


def _plan_context(plan: Plan, currency: str) -> dict[str, Any]:
    return {
        "plan": plan,
        "data": None if plan.data_mb is None else data_label(plan.data_mb),
        "daily_cap": None if plan.daily_cap_mb is None else data_label(plan.daily_cap_mb),
        "countries": [] if plan.region is None else list(plan.region.countries),
        "currency": currency,
        "price": plan_price(plan, currency),
        "currencies": plan_currencies(plan),
    }


class PlanDetailView(View):
    """/plans/<code>/: what the plan is, where it works, what it costs; a Buy button."""

    template_name = "storefront/plan_detail.html"

    def get(self, request: HttpRequest, code: str) -> HttpResponse:
        plan = _plan_or_404(code)
        # The shopper's currency: ?currency=, the profile's, or the selector's cookie.
        currency = plan_currency(plan, request.GET.get("currency", ""), currency_of(request))
        return render(request, self.template_name, _plan_context(plan, currency))


class CheckoutView(VerifiedEmailRequiredMixin, View):
    """/checkout/<code>/: confirm the destination, quantity, currency, coupon; place the order."""

    template_name = "storefront/checkout.html"

    def get(self, request: HttpRequest, code: str) -> HttpResponse:
        plan = _plan_or_404(code)
        customer = customer_of(request)
        currency = plan_currency(plan, request.GET.get("currency", ""), currency_of(request))
        form = CheckoutForm(plan=plan, customer=customer, currency=currency)
        return self.render(request, form)

    def post(self, request: HttpRequest, code: str) -> HttpResponse:
        plan = _plan_or_404(code)
        preview = request.POST.get("action") == APPLY
        form = CheckoutForm(request.POST, plan=plan, customer=customer_of(request), preview=preview)
        if preview or not form.is_valid():
            return self.render(request, form)
        try:
            order = order_place(
                customer=customer_of(request),
                currency=form.cleaned_data["currency"],
                lines=form.lines(form.cleaned_data["quantity"]),
                coupon_code=form.cleaned_data["coupon_code"],
                request_token=form.cleaned_data["request_token"],
            )
        except OrderError as refused:
            form.add_refusal(refused)
            form.renew_token()
            return self.render(request, form)
        return HttpResponseRedirect(reverse("storefront:order-detail", args=[order.public_id]))

    def render(self, request: HttpRequest, form: CheckoutForm) -> HttpResponse:
        if form.is_bound:
            form.is_valid()
            currency = form.cleaned_data.get("currency") or plan_currency(
                form.plan, "", form.customer.preferred_currency
            )
        else:
            currency = form.initial["currency"]
        context = _plan_context(form.plan, currency)
        context.update(form=form, quote=form.summary())
        return render(request, self.template_name, context)


# --- The order's page and paying it -----------------------------------------------------


def _topup_offer(shortfall: Money) -> Money | None:
    """What to top up to cover `shortfall`: the shortfall rounded up to the currency's minor
    unit and to at least the top-up minimum; None when top-ups are not taken in it."""
    currency = str(shortfall.currency)
    if currency not in topup_currencies():
        return None
    try:
        unit = quantum(currency)
    except UnsupportedCurrency:
        unit = Decimal("0.01")
    amount = (shortfall.amount / unit).to_integral_value(ROUND_CEILING) * unit
    minimum = topup_limits(currency).minimum
    return Money(max(amount, minimum.amount).quantize(unit), currency)


def _order_page(
    request: HttpRequest,
    order: Order,
    *,
    pay_form: OrderPayForm | None = None,
    shortfall: Money | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    pending = order.status == Order.Status.PENDING_PAYMENT
    open_payment = order_open_payment(order=order) if pending else None
    last_payment = order_last_payment(order=order) if pending and open_payment is None else None
    topup = _topup_offer(shortfall) if shortfall is not None else None
    context = {
        "order": order,
        "lines": order.lines.all(),
        "refunds": order.refunds.all(),
        "pending": pending,
        "balance": wallet_balance(user=customer_of(request), currency=order.currency)
        if pending
        else None,
        "pay_form": pay_form or OrderPayForm(),
        "open_payment": open_payment,
        "declined_payment": last_payment
        if last_payment is not None and not last_payment.is_captured
        else None,
        "shortfall": shortfall,
        "topup_amount": topup,
        "error": error,
        "polling": _polling(order, open_payment),
        "stock_hours": settings.SIMDESK_AWAITING_STOCK_HOURS,
        "payment_minutes": settings.SIMDESK_ORDER_PAYMENT_MINUTES,
    }
    return render(request, "storefront/order_detail.html", context, status=status)


def _polling(order: Order, open_payment: Any) -> bool:
    """Whether the page waits for something: a gateway's word, or a paid order's delivery."""
    if order.status == Order.Status.PENDING_PAYMENT:
        return open_payment is not None
    return order.status == Order.Status.PAID


class OrderDetailView(VerifiedEmailRequiredMixin, View):
    """/orders/<id>/: pay a pending order; then its status and what was delivered."""

    def get(self, request: HttpRequest, public_id: UUID) -> HttpResponse:
        return _order_page(request, _order_or_404(request, public_id))


class OrderPayWalletView(VerifiedEmailRequiredMixin, View):
    """POST /orders/<id>/pay/wallet/: pay from the wallet; short of money, offer the rest."""

    def post(self, request: HttpRequest, public_id: UUID) -> HttpResponse:
        order = _order_or_404(request, public_id)
        try:
            order_pay_wallet(order=order)
        except InsufficientFunds as short:
            return _order_page(request, order, shortfall=short.shortfall)
        except OrderError as refused:
            return _order_page(request, order, error=str(refused))
        return HttpResponseRedirect(reverse("storefront:order-detail", args=[order.public_id]))


class OrderPayView(VerifiedEmailRequiredMixin, View):
    """POST /orders/<id>/pay/: open a gateway payment for the order and go to its page."""

    def post(self, request: HttpRequest, public_id: UUID) -> HttpResponse:
        order = _order_or_404(request, public_id)
        form = OrderPayForm(request.POST)
        if not form.is_valid():
            return _order_page(request, order, pay_form=form)
        detail = reverse("storefront:order-detail", args=[order.public_id])
        try:
            payment = order_payment_start(
                order=order,
                method=form.cleaned_data["method"],
                request_token=form.cleaned_data["request_token"],
                return_url=lambda _payment: request.build_absolute_uri(detail),
                cancel_url=request.build_absolute_uri(detail),
                webhook_url=request.build_absolute_uri(
                    reverse("billing:webhook", args=[checkout_gateway().name])
                ),
            )
        except (PaymentError, OrderError) as refused:
            form.renew_token()
            return _order_page(request, order, pay_form=form, error=str(refused))
        if payment.is_open and payment.redirect_url:
            return HttpResponseRedirect(payment.redirect_url)
        return HttpResponseRedirect(detail)


class OrderStatusView(VerifiedEmailRequiredMixin, View):
    """/orders/<id>/status/: what the order's page polls while it waits."""

    def get(self, request: HttpRequest, public_id: UUID) -> JsonResponse:
        order = _order_or_404(request, public_id)
        open_payment = (
            order_open_payment(order=order)
            if order.status == Order.Status.PENDING_PAYMENT
            else None
        )
        return JsonResponse(
            {
                "status": order.status,
                "label": str(order.get_status_display()),
                "final": not _polling(order, open_payment),
            },
            headers={"Cache-Control": "no-store"},
        )


class OrderListView(VerifiedEmailRequiredMixin, View):
    """/orders/: every order, newest first, 20 a page."""

    template_name = "storefront/order_list.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        orders = customer_orders(user=customer_of(request))
        page = Paginator(orders, ORDERS_PAGE_SIZE).get_page(request.GET.get("page"))
        return render(request, self.template_name, {"page": page, "orders": page.object_list})


class OrderReceiptView(VerifiedEmailRequiredMixin, View):
    """/orders/<id>/receipt/: a printable receipt for a paid order."""

    template_name = "storefront/order_receipt.html"

    def get(self, request: HttpRequest, public_id: UUID) -> HttpResponse:
        order = customer_order_receipt(user=customer_of(request), public_id=public_id)
        if order is None:
            raise Http404
        return render(
            request,
            self.template_name,
            {
                "order": order,
                "lines": order.lines.all(),
                "refunds": order.refunds.all(),
                "seller": settings.SIMDESK_SELLER,
            },
        )
