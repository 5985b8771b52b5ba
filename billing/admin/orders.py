"""Coupons, orders and refunds in the admin."""

import contextlib
import re
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.exceptions import ValidationError
from django.db.models import Case, Q, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from billing.admin.common import ReadOnlyAdminMixin, change_link, money_html
from billing.admin.views.refund_queue import RefundQueueView
from billing.admin.views.refunds import (
    DECIDE_REFUND_PERMISSION,
    OrderRefundView,
    RefundApproveView,
    RefundRejectView,
    refund_facts,
)
from billing.forms import CouponAdminForm, format_money
from billing.models import (
    Coupon,
    Delivery,
    Order,
    OrderLine,
    Payment,
    Refund,
)
from billing.services.fulfilment import FULFILLABLE, order_fulfil
from catalog.admin_history import HistoryAdmin
from catalog.validation import normalize_iccid

# --- Coupons, orders, refunds -----------------------------------------------------------------
#
# Coupons are kept here by reseller staff. Orders and refunds are read-only: an order is
# fulfilled again by an action calling `order_fulfil`, refunded by finance through the order's
# refund page (`refund_issue`), and a customer's request is approved or rejected on the
# refund's own pages (`refund_approve`, `refund_reject`); see billing.admin.views.refunds.

ORDER_SEARCH = re.compile(r"^[Oo](\d{1,12})$")  # O00000012, as order pages print it
REFUND_SEARCH = re.compile(r"^[Rr](\d{1,12})$")
FULFILLED_AGAIN = ngettext_lazy(
    "Delivered %(count)d order.", "Delivered %(count)d orders.", "count"
)
STILL_WAITING = ngettext_lazy(
    "%(count)d order is still waiting for stock.",
    "%(count)d orders are still waiting for stock.",
    "count",
)
NOT_FULFILLABLE = ngettext_lazy(
    "Skipped %(count)d order that was not paid and waiting: nothing to deliver.",
    "Skipped %(count)d orders that were not paid and waiting: nothing to deliver.",
    "count",
)


@admin.register(Coupon)
class CouponAdmin(HistoryAdmin):
    form = CouponAdminForm
    list_display = (
        "code",
        "kind",
        "value",
        "currency",
        "valid_window",
        "uses_display",
        "max_uses_per_customer",
        "min_spend_display",
        "is_active",
    )
    list_filter = ("kind", "is_active", "currency")
    search_fields = ("code",)
    autocomplete_fields = ("plans",)
    readonly_fields = ("uses", "created_at")
    fieldsets = (
        (None, {"fields": ("code", "description", "is_active")}),
        (
            _("Discount"),
            {
                "fields": ("kind", "percent", "amount", "currency"),
                "description": _(
                    "A percentage off, or a fixed amount off in the coupon's currency."
                ),
            },
        ),
        (_("When"), {"fields": ("valid_from", "valid_until")}),
        (
            _("Limits"),
            {"fields": ("min_spend", "max_uses", "max_uses_per_customer", "uses")},
        ),
        (_("Plans"), {"fields": ("plans",)}),
        (None, {"fields": ("created_at",)}),
    )

    @admin.display(description=_("value"))
    def value(self, obj: Coupon) -> str:
        if obj.kind == Coupon.Kind.PERCENT and obj.percent is not None:
            return f"{obj.percent.normalize():f}%"
        if obj.amount is not None:
            return format_money(obj.amount, obj.currency)
        return ""

    @admin.display(description=_("valid"), ordering="valid_from")
    def valid_window(self, obj: Coupon) -> str:
        starts = formats.date_format(timezone.localtime(obj.valid_from), "SHORT_DATETIME_FORMAT")
        if obj.valid_until is None:
            return str(_("from %(starts)s") % {"starts": starts})
        ends = formats.date_format(timezone.localtime(obj.valid_until), "SHORT_DATETIME_FORMAT")
        return f"{starts} – {ends}"

    @admin.display(description=_("uses"), ordering="uses")
    def uses_display(self, obj: Coupon) -> str:
        return f"{obj.uses} / {obj.max_uses}" if obj.max_uses is not None else f"{obj.uses} / ∞"

    @admin.display(description=_("minimum spend"), ordering="min_spend")
    def min_spend_display(self, obj: Coupon) -> SafeString | str:
        return money_html(obj.min_spend, obj.currency)


class OrderLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OrderLine
    fields = (
        "kind",
        "description",
        "plan",
        "profile",
        "quantity",
        "unit_price_display",
        "discount_display",
        "total_display",
        "fulfilled_at",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderLine]:
        return super().get_queryset(request).select_related("order", "plan", "profile")

    @admin.display(description=_("unit price"))
    def unit_price_display(self, obj: OrderLine) -> SafeString | str:
        return money_html(obj.unit_price, obj.order.currency)

    @admin.display(description=_("discount"))
    def discount_display(self, obj: OrderLine) -> SafeString | str:
        return money_html(obj.discount, obj.order.currency) if obj.discount else ""

    @admin.display(description=_("total"))
    def total_display(self, obj: OrderLine) -> SafeString | str:
        return money_html(obj.total, obj.order.currency)


class RefundInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Refund
    fk_name = "order"
    fields = (
        "refund_link",
        "profile",
        "amount_display",
        "destination",
        "status",
        "created_at",
        "decided_by",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Refund]:
        return super().get_queryset(request).select_related("profile", "decided_by")

    @admin.display(description=_("refund"))
    def refund_link(self, obj: Refund) -> SafeString:
        return change_link(obj, obj.number)

    @admin.display(description=_("amount"))
    def amount_display(self, obj: Refund) -> SafeString | str:
        return money_html(obj.amount, obj.currency)


class OrderPaymentInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Payment
    fk_name = "order"
    verbose_name_plural = _("payments")
    fields = (
        "payment_link",
        "method",
        "status",
        "amount_display",
        "refunded_display",
        "created_at",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False

    @admin.display(description=_("receipt"))
    def payment_link(self, obj: Payment) -> SafeString:
        return change_link(obj, obj.receipt_number)

    @admin.display(description=_("amount"))
    def amount_display(self, obj: Payment) -> SafeString | str:
        return money_html(obj.amount, obj.currency)

    @admin.display(description=_("refunded"))
    def refunded_display(self, obj: Payment) -> SafeString | str:
        return money_html(obj.refunded_amount, obj.currency) if obj.refunded_amount else ""


@admin.register(Order)
class OrderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "number_display",
        "customer_email",
        "created_at",
        "status",
        "paid_with",
        "total_display",
        "coupon",
    )
    list_filter = ("status", "paid_with", "currency", "created_at")
    # Also an order number or an ICCID it delivered: get_search_results.
    search_fields = ("customer__email",)
    search_help_text = _("An order number, the customer's email, or the ICCID of an eSIM.")
    list_select_related = ("customer", "coupon")
    date_hierarchy = "created_at"
    fieldsets = (
        (
            None,
            {"fields": ("number_display", "public_id", "customer", "status", "created_at")},
        ),
        (
            _("Amounts"),
            {
                "fields": (
                    "subtotal_display",
                    "discount_display",
                    "coupon",
                    "total_display",
                    "tax_display",
                    "refunded_display",
                )
            },
        ),
        (_("Payment"), {"fields": ("paid_with", "payment", "paid_at")}),
        (
            _("Delivery"),
            {
                "fields": (
                    "fulfilled_at",
                    "awaiting_stock_since",
                    "delivery_sent_at",
                    "canceled_at",
                )
            },
        ),
    )
    inlines = (OrderLineInline, OrderPaymentInline, RefundInline)
    actions = ("fulfil_again",)
    show_full_result_count = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return flatten_fieldsets(self.fieldsets)

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(
            OrderRefundView.as_view(admin_site=self.admin_site, model_admin=self)
        )
        # Before the admin's own URLs, whose "<object_id>/" would take "12/refund/".
        return [
            path("<path:object_id>/refund/", view, name="billing_order_refund"),
            *super().get_urls(),
        ]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Order], search_term: str
    ) -> tuple[QuerySet[Order], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if number := ORDER_SEARCH.match(term):
            results |= queryset.filter(pk=int(number.group(1)))
        else:
            try:
                iccid = normalize_iccid(term)
            except ValidationError:
                pass
            else:
                delivered = Delivery.objects.filter(profile__iccid=iccid).values("line__order_id")
                topped_up = OrderLine.objects.filter(profile__iccid=iccid).values("order_id")
                results |= queryset.filter(Q(pk__in=delivered) | Q(pk__in=topped_up))
        return results, may_have_duplicates

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = dict(extra_context or {})
        order = None
        if self.has_view_permission(request):
            order = self.get_object(request, unquote(object_id))
        if order is not None:
            context.update(
                deliveries=list(
                    Delivery.objects.filter(line__order=order)
                    .select_related("line", "profile", "bundle", "bundle__plan")
                    .order_by("line", "pk")
                ),
                may_refund=request.user.has_perm(DECIDE_REFUND_PERMISSION)
                and order.is_paid
                and order.paid_at is not None
                and order.refunded_amount < order.total,
            )
        return super().change_view(request, object_id, form_url, context)

    def has_fulfil_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("billing.change_order")

    @admin.action(description=_("Try to fulfil again"), permissions=["fulfil"])
    def fulfil_again(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        delivered = waiting = skipped = 0
        for order_id, status in queryset.order_by("pk").values_list("pk", "status"):
            if status not in FULFILLABLE:
                skipped += 1
                continue
            order = order_fulfil(order_id=order_id)
            if order.status == Order.Status.FULFILLED:
                delivered += 1
            else:
                waiting += 1
        if delivered:
            self.message_user(request, FULFILLED_AGAIN % {"count": delivered}, messages.SUCCESS)
        if waiting:
            self.message_user(request, STILL_WAITING % {"count": waiting}, messages.WARNING)
        if skipped:
            self.message_user(request, NOT_FULFILLABLE % {"count": skipped}, messages.WARNING)

    @admin.display(description=_("number"), ordering="pk")
    def number_display(self, obj: Order) -> str:
        return obj.number

    @admin.display(description=_("customer"), ordering="customer__email")
    def customer_email(self, obj: Order) -> str:
        return obj.customer.email

    @admin.display(description=_("total"), ordering="total")
    def total_display(self, obj: Order) -> SafeString | str:
        return money_html(obj.total, obj.currency)

    @admin.display(description=_("subtotal"))
    def subtotal_display(self, obj: Order) -> SafeString | str:
        return money_html(obj.subtotal, obj.currency)

    @admin.display(description=_("discount"))
    def discount_display(self, obj: Order) -> SafeString | str:
        return money_html(obj.discount, obj.currency)

    @admin.display(description=_("tax included"))
    def tax_display(self, obj: Order) -> SafeString | str:
        if not obj.tax_label:
            return ""
        return format_html("{} {}", obj.tax_label, money_html(obj.tax, obj.currency))

    @admin.display(description=_("refunded"))
    def refunded_display(self, obj: Order) -> SafeString | str:
        return money_html(obj.refunded_amount, obj.currency)


class RequestedFirst(admin.SimpleListFilter):
    """The refund queue: what waits for a decision, or everything."""

    title = _("queue")
    parameter_name = "queue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("open", _("Waiting for a decision or processing"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Refund]) -> QuerySet[Refund]:
        if self.value() == "open":
            return queryset.filter(status__in=Refund.OPEN)
        return queryset


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "number_display",
        "order_link",
        "customer_email",
        "iccid",
        "amount_display",
        "status",
        "created_at",
        "decided_by",
    )
    list_filter = ("status", RequestedFirst, "destination", "created_at")
    # Also a refund or order number: get_search_results.
    search_fields = ("order__customer__email", "profile__iccid")
    search_help_text = _("A refund or order number, the customer's email, or an ICCID.")
    list_select_related = ("order", "order__customer", "profile", "decided_by")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "number_display",
                    "order_link",
                    "customer_email",
                    "profile",
                    "status",
                    "reason",
                    "requested_by",
                    "created_at",
                )
            },
        ),
        (
            _("Decision"),
            {
                "fields": (
                    "amount_display",
                    "destination",
                    "decided_by",
                    "decided_at",
                    "decision_note",
                    "completed_at",
                    "gateway_refund_id",
                    "failure_message",
                )
            },
        ),
    )
    actions = None
    show_full_result_count = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return flatten_fieldsets(self.fieldsets)

    def get_ordering(self, request: HttpRequest) -> tuple[str, ...]:
        # Requests waiting for a decision first, then the newest (get_queryset's `queue_rank`;
        # not `ordering`, which the system checks hold to model fields).
        return ("queue_rank", "-created_at", "-id")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Refund]:
        # Annotated before ordering: ModelAdmin.get_queryset would order by `queue_rank`
        # before it exists.
        queryset = (
            self.model._default_manager.get_queryset()
            .select_related("order", "order__customer", "order__payment", "profile")
            .annotate(
                queue_rank=Case(
                    When(status=Refund.Status.REQUESTED, then=Value(0)),
                    When(status=Refund.Status.PROCESSING, then=Value(1)),
                    default=Value(2),
                )
            )
        )
        return queryset.order_by(*(self.get_ordering(request) or ()))

    def get_urls(self) -> list[URLPattern]:
        def view(view_class: Any) -> Any:
            return self.admin_site.admin_view(
                view_class.as_view(admin_site=self.admin_site, model_admin=self)
            )

        # Before the admin's own URLs, whose "<object_id>/" would take "12/approve/" and "queue/".
        return [
            path("queue/", view(RefundQueueView), name="billing_refund_queue"),
            path(
                "<path:object_id>/approve/",
                view(RefundApproveView),
                name="billing_refund_approve",
            ),
            path(
                "<path:object_id>/reject/",
                view(RefundRejectView),
                name="billing_refund_reject",
            ),
            *super().get_urls(),
        ]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Refund], search_term: str
    ) -> tuple[QuerySet[Refund], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if number := REFUND_SEARCH.match(term):
            results |= queryset.filter(pk=int(number.group(1)))
        elif number := ORDER_SEARCH.match(term):
            results |= queryset.filter(order_id=int(number.group(1)))
        else:
            with contextlib.suppress(ValidationError):
                results |= queryset.filter(profile__iccid=normalize_iccid(term))
        return results, may_have_duplicates

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = dict(extra_context or {})
        refund = None
        if self.has_view_permission(request):
            refund = self.get_object(request, unquote(object_id))
        if refund is not None:
            context.update(
                facts=refund_facts(refund),
                may_decide=request.user.has_perm(DECIDE_REFUND_PERMISSION)
                and refund.status == Refund.Status.REQUESTED,
            )
        return super().change_view(request, object_id, form_url, context)

    @admin.display(description=_("number"), ordering="pk")
    def number_display(self, obj: Refund) -> str:
        return obj.number

    @admin.display(description=_("order"), ordering="order")
    def order_link(self, obj: Refund) -> SafeString:
        return change_link(obj.order, obj.order.number)

    @admin.display(description=_("customer"), ordering="order__customer__email")
    def customer_email(self, obj: Refund) -> str:
        return obj.order.customer.email

    @admin.display(description=_("eSIM"), ordering="profile__iccid")
    def iccid(self, obj: Refund) -> str:
        return obj.profile.iccid if obj.profile is not None else ""

    @admin.display(description=_("amount"), ordering="amount")
    def amount_display(self, obj: Refund) -> SafeString | str:
        return money_html(obj.amount, obj.currency)
