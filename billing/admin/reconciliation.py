"""Gateway reconciliation and payouts in the staff console.

Runs and payouts are read-only. The pages that reconcile, record a payout
(billing.admin.views.reconciliation) and resolve a payment or a refund missing in the ledger
(billing.admin.views.reconciliation_resolve) are mounted here.
"""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from billing.admin.common import ReadOnlyAdminMixin, change_link, money_html
from billing.admin.views.reconciliation import (
    RECORD_PERMISSION,
    RUN_PERMISSION,
    PayoutRecordView,
    ReconcileView,
    mounted_view,
    record_payout_url,
)
from billing.admin.views.reconciliation_resolve import can_ask, can_book, resolution_urls
from billing.models import GatewayPayout, ReconciliationItem, ReconciliationRun


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "__str__",
        "status",
        "matched_count",
        "missing_in_ledger_count",
        "missing_at_gateway_count",
        "mismatch_count",
        "ran_at",
        "run_by",
    )
    list_filter = ("status", "gateway")
    list_select_related = ("run_by",)
    date_hierarchy = "start"
    fields = (
        "gateway",
        "start",
        "end",
        "status",
        "error",
        "matched_count",
        "missing_in_ledger_count",
        "missing_at_gateway_count",
        "mismatch_count",
        "ran_at",
        "run_by",
    )
    readonly_fields = fields

    def get_urls(self) -> list[URLPattern]:
        # Imported here: that module builds on this one's FinanceAdminView.

        # Before the admin's own URLs, whose "<object_id>/" would take "run/".
        return [
            path("run/", mounted_view(self, ReconcileView), name="billing_reconciliationrun_run"),
            *resolution_urls(self),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        run = self.get_object(request, object_id)
        extra: dict[str, Any] = dict(extra_context or {})
        if run is not None:
            extra["item_groups"] = self._item_groups(request, run)
            extra["totals"] = sorted(run.totals.items())
        return super().change_view(request, object_id, form_url, extra)

    def _item_groups(self, request: HttpRequest, run: ReconciliationRun) -> list[dict[str, Any]]:

        items = run.items.select_related(
            "payment", "refund", "entry", "payout", "resolved_entry", "resolved_by"
        ).order_by("occurred_at", "pk")
        may_record = request.user.has_perm(RECORD_PERMISSION)
        may_resolve = request.user.has_perm(RUN_PERMISSION)
        groups: dict[str, list[dict[str, Any]]] = {r.value: [] for r in ReconciliationItem.Result}
        for item in items:
            record_url = ""
            if (
                may_record
                and item.kind == ReconciliationItem.Kind.PAYOUT
                and item.result == ReconciliationItem.Result.MISSING_IN_LEDGER
            ):
                record_url = record_payout_url(item, run)
            groups[item.result].append(
                {
                    "item": item,
                    "ledger": money_html(item.ledger_amount, item.currency),
                    "gateway": money_html(
                        item.gateway_amount, item.gateway_currency or item.currency
                    ),
                    "fee": money_html(item.gateway_fee, item.gateway_currency or item.currency),
                    "links": _links(item),
                    "record_url": record_url,
                    "ask_url": reverse(
                        "admin:billing_reconciliationrun_ask_gateway", args=[item.pk]
                    )
                    if may_resolve and can_ask(item)
                    else "",
                    "book_url": reverse(
                        "admin:billing_reconciliationrun_book_refund", args=[item.pk]
                    )
                    if may_resolve and can_book(item)
                    else "",
                    "resolved_link": change_link(item.resolved_entry, f"#{item.resolved_entry.pk}")
                    if item.resolved_entry is not None
                    else "",
                }
            )
        return [
            {"result": result, "label": result.label, "rows": groups[result.value]}
            for result in ReconciliationItem.Result
            if groups[result.value]
        ]


def _links(item: ReconciliationItem) -> list[SafeString]:
    links = []
    if item.payment is not None:
        links.append(change_link(item.payment, item.payment.receipt_number))
    if item.refund is not None:
        links.append(change_link(item.refund, item.refund.number))
    if item.entry is not None:
        links.append(change_link(item.entry, f"#{item.entry.pk}"))
    if item.payout is not None:
        links.append(change_link(item.payout, item.payout.reference))
    return links


@admin.register(GatewayPayout)
class GatewayPayoutAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "reference",
        "gateway",
        "paid_on",
        "amount_cell",
        "fees_cell",
        "entry_link",
        "recorded_by",
        "created_at",
    )
    list_filter = ("gateway", "currency")
    list_select_related = ("entry", "recorded_by")
    search_fields = ("reference",)
    date_hierarchy = "paid_on"
    fields = (
        "gateway",
        "reference",
        "currency",
        "amount",
        "fees",
        "paid_on",
        "entry",
        "recorded_by",
        "note",
        "created_at",
    )
    readonly_fields = fields

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "record/", mounted_view(self, PayoutRecordView), name="billing_gatewaypayout_record"
            ),
            *super().get_urls(),
        ]

    @admin.display(description=_("amount to the bank"), ordering="amount")
    def amount_cell(self, obj: GatewayPayout) -> SafeString | str:
        return money_html(obj.amount, obj.currency)

    @admin.display(description=_("fees"), ordering="fees")
    def fees_cell(self, obj: GatewayPayout) -> SafeString | str:
        return money_html(obj.fees, obj.currency)

    @admin.display(description=_("journal entry"))
    def entry_link(self, obj: GatewayPayout) -> SafeString:
        return change_link(obj.entry, format_html("#{}", obj.entry_id))
