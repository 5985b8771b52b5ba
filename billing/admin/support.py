"""Support requests in the staff console: reseller staff and finance read what customers
wrote (read-only) and record how they handled it (status and a note). No money moves here."""

import re
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.models import User
from billing.admin.common import change_link
from billing.models import SupportRequest
from billing.services.support import support_request_handle

NUMBER_SEARCH = re.compile(r"^S-?0*(\d{1,12})$", re.IGNORECASE)
CUSTOMER_FIELDS = (
    "number_display",
    "public_id",
    "customer",
    "email",
    "name",
    "language",
    "topic",
    "subject",
    "message",
    "order_link",
    "payment_link",
    "created_at",
    "acknowledged_at",
)


@admin.register(SupportRequest)
class SupportRequestAdmin(admin.ModelAdmin):
    list_display = (
        "number_display",
        "created_at",
        "status",
        "topic",
        "writer",
        "subject",
        "about",
        "handled_by",
    )
    list_filter = ("status", "topic", "language")
    list_select_related = ("customer", "order", "payment", "handled_by")
    search_fields = ("email", "subject", "customer__email", "name")
    search_help_text = _("A request number (S-000123), an email address or words of the subject.")
    date_hierarchy = "created_at"
    fieldsets = (
        (_("What the customer wrote"), {"fields": CUSTOMER_FIELDS}),
        (_("Handling"), {"fields": ("status", "staff_note", "handled_by", "updated_at")}),
    )
    readonly_fields = (*CUSTOMER_FIELDS, "handled_by", "updated_at")
    actions = ("mark_answered", "mark_closed")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # requests come from the contact form

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[SupportRequest], search_term: str
    ) -> tuple[QuerySet[SupportRequest], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if number := NUMBER_SEARCH.match(search_term.strip()):
            results |= queryset.filter(pk=int(number.group(1)))
        return results, may_have_duplicates

    def save_model(
        self, request: HttpRequest, obj: SupportRequest, form: Any, change: bool
    ) -> None:
        # Only status and note are editable; the service records who handled it.
        support_request_handle(
            support_request=obj,
            status=obj.status,
            staff_note=obj.staff_note,
            actor=request.user,  # type: ignore[arg-type]  # admin views need a user
        )

    @admin.display(description=_("number"), ordering="pk")
    def number_display(self, obj: SupportRequest) -> str:
        return obj.number

    @admin.display(description=_("from"), ordering="email")
    def writer(self, obj: SupportRequest) -> SafeString | str:
        if obj.customer is not None:
            return change_link(obj.customer, obj.customer.email)
        return obj.email

    @admin.display(description=_("about"))
    def about(self, obj: SupportRequest) -> SafeString | str:
        if obj.order is not None:
            return change_link(obj.order, obj.order.number)
        if obj.payment is not None:
            return change_link(obj.payment, obj.payment.receipt_number)
        return "—"

    @admin.display(description=_("order"))
    def order_link(self, obj: SupportRequest) -> SafeString | str:
        return change_link(obj.order, obj.order.number) if obj.order is not None else "—"

    @admin.display(description=_("payment"))
    def payment_link(self, obj: SupportRequest) -> SafeString | str:
        if obj.payment is None:
            return "—"
        return change_link(obj.payment, obj.payment.receipt_number)

    @admin.action(description=_("Mark selected requests answered"), permissions=["change"])
    def mark_answered(self, request: HttpRequest, queryset: QuerySet[SupportRequest]) -> None:
        self._set_status(request, queryset, SupportRequest.Status.ANSWERED)

    @admin.action(description=_("Close selected requests"), permissions=["change"])
    def mark_closed(self, request: HttpRequest, queryset: QuerySet[SupportRequest]) -> None:
        self._set_status(request, queryset, SupportRequest.Status.CLOSED)

    def _set_status(
        self, request: HttpRequest, queryset: QuerySet[SupportRequest], status: str
    ) -> None:
        actor: User = request.user  # type: ignore[assignment]  # admin views need a user
        count = 0
        for support_request in queryset:
            support_request_handle(
                support_request=support_request,
                status=status,
                staff_note=support_request.staff_note,
                actor=actor,
            )
            count += 1
        self.message_user(
            request,
            ngettext("%(count)d request updated.", "%(count)d requests updated.", count)
            % {"count": count},
        )
