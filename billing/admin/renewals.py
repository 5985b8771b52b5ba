"""Auto-renewals, renewal periods and reminders in the admin: read-only, for answering a
customer ("why was I charged?", "why did my renewal stop?"). Charges happen only in the
renewal services; a customer turns auto-renewal on and off on their eSIM page."""

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from billing.admin.common import ReadOnlyAdminMixin, change_link, money_html
from billing.models import AutoRenewal, Reminder, Renewal
from catalog.validation import normalize_iccid


def _iccid_search(term: str) -> str:
    try:
        return normalize_iccid(term)
    except ValidationError:  # not an ICCID: searched as typed
        return term


@admin.register(AutoRenewal)
class AutoRenewalAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("profile", "customer", "plan", "currency", "enabled", "disabled_reason")
    list_filter = ("enabled", "currency")
    list_select_related = ("profile", "customer", "plan")
    search_fields = ("profile__iccid", "customer__email")
    readonly_fields = ("profile", "customer", "plan", "currency", "enabled", "disabled_reason")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[AutoRenewal], search_term: str
    ) -> tuple[QuerySet[AutoRenewal], bool]:
        return super().get_search_results(request, queryset, _iccid_search(search_term))


@admin.register(Renewal)
class RenewalAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "key",
        "customer",
        "plan",
        "period_start",
        "status",
        "attempts",
        "next_attempt_at",
        "paid_with",
        "price",
        "order_link",
    )
    list_filter = ("status", "paid_with", "currency")
    list_select_related = ("customer", "plan", "order", "profile")
    search_fields = ("key", "profile__iccid", "customer__email")
    date_hierarchy = "period_start"
    readonly_fields = (
        "key",
        "profile",
        "customer",
        "plan",
        "currency",
        "period_start",
        "status",
        "attempts",
        "next_attempt_at",
        "order",
        "payment",
        "paid_with",
        "last_error",
        "created_at",
        "finished_at",
    )

    @admin.display(description=_("order"))
    def order_link(self, obj: Renewal) -> object:
        if obj.order is None:
            return "—"
        return change_link(obj.order, obj.order.number)

    @admin.display(description=_("price"))
    def price(self, obj: Renewal) -> object:
        return money_html(obj.order.total, obj.currency) if obj.order else "—"

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Renewal], search_term: str
    ) -> tuple[QuerySet[Renewal], bool]:
        return super().get_search_results(request, queryset, _iccid_search(search_term))


@admin.register(Reminder)
class ReminderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("profile", "kind", "bundle", "sent_at")
    list_filter = ("kind",)
    list_select_related = ("profile", "bundle")
    search_fields = ("profile__iccid",)
    date_hierarchy = "sent_at"
    readonly_fields = ("profile", "bundle", "kind", "sent_at")
