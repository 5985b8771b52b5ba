"""Refunds in the staff console: finance refund (part of) an order (`refund_issue`), and
approve (`refund_approve`) or reject (`refund_reject`) a customer's request, beside the facts
it is judged on (`refund_facts`, also shown by the refund queue).

Mounted by OrderAdmin.get_urls() and RefundAdmin.get_urls(); every page needs
billing.decide_refund. Each validates with a form, makes one service call and redirects to
what it wrote, telling staff what became of the refund.
"""

from dataclasses import dataclass
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import AdminSite, ModelAdmin
from django.contrib.admin.utils import unquote
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views import View

from accounts.models import User
from billing.exceptions import RefundRefused
from billing.forms import (
    REFUND_ALREADY_SUBMITTED,
    OrderRefundForm,
    RefundApproveForm,
    RefundRejectForm,
    format_money,
)
from billing.models import Order, Payment, Refund
from billing.selectors.refunds import refund_facts_load
from billing.services.refunds import refund_approve, refund_issue, refund_reject
from catalog.models import Bundle, EsimProfile

DECIDE_REFUND_PERMISSION = "billing.decide_refund"
ORDER_REFUND_TITLE = _("Refund order %(number)s")
REFUND_APPROVE_TITLE = _("Approve refund %(number)s")
REFUND_REJECT_TITLE = _("Reject refund %(number)s")
ORDER_NOT_FOUND = _("There is no order with this ID.")
REFUND_NOT_FOUND = _("There is no refund with this ID.")
REFUND_ALREADY_DECIDED = _("Refund %(number)s has already been decided.")
REFUNDED_TO_WALLET = _("Refund %(number)s: %(amount)s credited to the customer's wallet.")
REFUNDED_TO_ORIGINAL = _("Refund %(number)s: %(amount)s sent back to the original payment method.")
REFUND_SENDING = _("Refund %(number)s: %(amount)s is being sent to the payment gateway.")
REFUND_GATEWAY_FAILED = _(
    "Refund %(number)s failed at the payment gateway: %(message)s. Nothing was refunded."
)
REFUND_REJECTED = _("Refund %(number)s rejected; the customer has been told why.")
MEGABYTE = 1024 * 1024
ONCE_SECONDS = 24 * 60 * 60  # how long a refund page's token stays claimed


@dataclass(frozen=True)
class BundleUsage:
    """One bundle of the refunded eSIM, with its data used for finance to judge."""

    bundle: Bundle
    used: str
    allowance: str
    left: str


@dataclass(frozen=True)
class RefundFacts:
    """What finance look at beside a refund: the order's figures, its payment, the eSIM."""

    order: Order
    total: str
    refunded: str
    left: str
    payment: Payment | None
    payment_refunded: str
    profile: EsimProfile | None
    bundles: list[BundleUsage]
    earlier_refunds: list[Refund]

    @property
    def current_bundle(self) -> BundleUsage | None:
        """The bundle running now, else the one queued next, else the last one."""
        for status in (Bundle.Status.ACTIVE, Bundle.Status.QUEUED):
            for usage in self.bundles:
                if usage.bundle.status == status:
                    return usage
        return self.bundles[-1] if self.bundles else None


def _megabytes(size: float) -> str:
    return f"{size / MEGABYTE:.1f} MB"


def refund_facts(refund: Refund) -> RefundFacts:
    """The facts of one refund. Loaded with `billing.selectors.refunds` (the queue loads them
    for all its refunds at once; a refund alone, here)."""
    refund_facts_load([refund])
    order = refund.order
    currency = order.currency
    payment = order.payment
    profile = refund.profile
    bundles = []
    if profile is not None:
        for bundle in profile.bundles.all():  # prefetched with their plans, in order
            allowance = bundle.data_allowance_mb
            bundles.append(
                BundleUsage(
                    bundle=bundle,
                    used=_megabytes(bundle.data_used_bytes),
                    allowance=str(_("Unlimited")) if allowance is None else f"{allowance} MB",
                    left=str(_("Unlimited"))
                    if allowance is None
                    else _megabytes(max(allowance * MEGABYTE - bundle.data_used_bytes, 0)),
                )
            )
    return RefundFacts(
        order=order,
        total=format_money(order.total, currency),
        refunded=format_money(order.refunded_amount, currency),
        left=format_money(order.total - order.refunded_amount, currency),
        payment=payment,
        payment_refunded=format_money(payment.refunded_amount, payment.currency)
        if payment is not None
        else "",
        profile=profile,
        bundles=bundles,
        earlier_refunds=[other for other in order.refunds.all() if other.pk != refund.pk],
    )


def order_url(order: Order) -> str:
    return reverse("admin:billing_order_change", args=[order.pk])


def refund_url(refund: Refund) -> str:
    return reverse("admin:billing_refund_change", args=[refund.pk])


def refund_outcome_message(request: HttpRequest, refund: Refund) -> None:
    """Tell staff what became of a refund they approved or issued."""
    values = {
        "number": refund.number,
        "amount": format_money(refund.amount, refund.currency),
        "message": refund.failure_message,
    }
    if refund.status == Refund.Status.REJECTED:
        messages.success(request, REFUND_REJECTED % values)
    elif refund.status == Refund.Status.FAILED:
        messages.error(request, REFUND_GATEWAY_FAILED % values)
    elif refund.status == Refund.Status.PROCESSING:
        messages.warning(request, REFUND_SENDING % values)
    elif refund.destination == Refund.Destination.WALLET:
        messages.success(request, REFUNDED_TO_WALLET % values)
    else:
        messages.success(request, REFUNDED_TO_ORIGINAL % values)


class RefundDecisionView(View):
    """A finance page about one order or refund: only users who may decide refunds.

    Mounted by OrderAdmin.get_urls() and RefundAdmin.get_urls() through
    `admin_site.admin_view`, which passes `admin_site` and `model_admin` to `as_view`.
    """

    admin_site: AdminSite = admin.site
    model_admin: "ModelAdmin[Any] | None" = None
    template_name = ""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.has_perm(DECIDE_REFUND_PERMISSION):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get_model_admin(self) -> "ModelAdmin[Any]":
        assert self.model_admin is not None, "mounted by a ModelAdmin's get_urls()"
        return self.model_admin

    def render(self, request: HttpRequest, *, title: str, **context: Any) -> TemplateResponse:
        model_admin = self.get_model_admin()
        opts = model_admin.model._meta
        form = context.get("form")
        return TemplateResponse(
            request,
            self.template_name,
            {
                **self.admin_site.each_context(request),
                "title": title,
                "opts": opts,
                "app_label": opts.app_label,
                "has_view_permission": model_admin.has_view_permission(request),
                "media": form.media if form is not None else None,
                **context,
            },
        )


class OrderRefundView(RefundDecisionView):
    """order/<id>/refund/: refund (part of) a paid order to the wallet or the original payment
    method, optionally voiding one of its eSIMs (`refund_issue`)."""

    template_name = "admin/billing/order/refund.html"

    def get(self, request: HttpRequest, object_id: str) -> HttpResponse:
        order = self.get_order(request, object_id)
        return self._render(request, OrderRefundForm(order=order), order)

    def post(self, request: HttpRequest, object_id: str) -> HttpResponse:
        order = self.get_order(request, object_id)
        form = OrderRefundForm(request.POST, order=order)
        if form.is_valid() and not cache.add(form.once_key, True, ONCE_SECONDS):
            form.add_error(None, REFUND_ALREADY_SUBMITTED)
            form.renew_token()
        elif form.is_valid():
            try:
                refund = refund_issue(
                    order=order,
                    amount=form.cleaned_data["amount"],
                    destination=form.cleaned_data["destination"],
                    actor=cast(User, request.user),
                    reason=form.cleaned_data["reason"],
                    profile=form.cleaned_data["profile"],
                )
            except RefundRefused as error:
                cache.delete(form.once_key)  # nothing was written: the page may be sent again
                form.add_error(None, str(error))
            else:
                refund_outcome_message(request, refund)
                return HttpResponseRedirect(order_url(order))
        return self._render(request, form, order)

    def get_order(self, request: HttpRequest, object_id: str) -> Order:
        order = self.get_model_admin().get_object(request, unquote(object_id))
        if order is None:
            raise Http404(ORDER_NOT_FOUND)
        return cast(Order, order)

    def _render(self, request: HttpRequest, form: OrderRefundForm, order: Order) -> HttpResponse:
        currency = order.currency
        return self.render(
            request,
            title=str(ORDER_REFUND_TITLE % {"number": order.number}),
            form=form,
            order=order,
            total=format_money(order.total, currency),
            refunded=format_money(order.refunded_amount, currency),
            left=format_money(order.total - order.refunded_amount, currency),
            refunds=list(order.refunds.order_by("created_at", "pk")),
        )


class RefundDecideView(RefundDecisionView):
    """refund/<id>/approve/ and refund/<id>/reject/: finance decide a requested refund."""

    template_name = "admin/billing/refund/decide.html"
    title = REFUND_APPROVE_TITLE

    def get(self, request: HttpRequest, object_id: str) -> HttpResponse:
        refund = self.get_refund(request, object_id)
        if refund.status != Refund.Status.REQUESTED:
            return self._already_decided(request, refund)
        return self._render(request, self.make_form(refund, None), refund)

    def post(self, request: HttpRequest, object_id: str) -> HttpResponse:
        refund = self.get_refund(request, object_id)
        if refund.status != Refund.Status.REQUESTED:
            return self._already_decided(request, refund)
        form = self.make_form(refund, request.POST)
        if form.is_valid():
            try:
                decided = self.decide(request, refund, form)
            except RefundRefused as error:
                form.add_error(None, str(error))
            else:
                refund_outcome_message(request, decided)
                return HttpResponseRedirect(refund_url(decided))
        return self._render(request, form, refund)

    def make_form(self, refund: Refund, data: Any) -> forms.Form:
        raise NotImplementedError

    def decide(self, request: HttpRequest, refund: Refund, form: Any) -> Refund:
        raise NotImplementedError

    def get_refund(self, request: HttpRequest, object_id: str) -> Refund:
        refund = self.get_model_admin().get_object(request, unquote(object_id))
        if refund is None:
            raise Http404(REFUND_NOT_FOUND)
        return cast(Refund, refund)

    def _already_decided(self, request: HttpRequest, refund: Refund) -> HttpResponse:
        messages.warning(request, REFUND_ALREADY_DECIDED % {"number": refund.number})
        return HttpResponseRedirect(refund_url(refund))

    def _render(self, request: HttpRequest, form: forms.Form, refund: Refund) -> HttpResponse:
        return self.render(
            request,
            title=str(self.title % {"number": refund.number}),
            form=form,
            refund=refund,
            requested=format_money(refund.amount, refund.currency),
            facts=refund_facts(refund),
            rejecting=isinstance(form, RefundRejectForm),
        )


class RefundApproveView(RefundDecideView):
    title = REFUND_APPROVE_TITLE

    def make_form(self, refund: Refund, data: Any) -> forms.Form:
        return RefundApproveForm(data, refund=refund)

    def decide(self, request: HttpRequest, refund: Refund, form: Any) -> Refund:
        return refund_approve(
            refund_id=refund.pk,
            actor=cast(User, request.user),
            destination=form.cleaned_data["destination"],
            amount=form.cleaned_data["amount"],
            note=form.cleaned_data["note"],
        )


class RefundRejectView(RefundDecideView):
    title = REFUND_REJECT_TITLE

    def make_form(self, refund: Refund, data: Any) -> forms.Form:
        return RefundRejectForm(data)

    def decide(self, request: HttpRequest, refund: Refund, form: Any) -> Refund:
        return refund_reject(
            refund_id=refund.pk, actor=cast(User, request.user), note=form.cleaned_data["note"]
        )
