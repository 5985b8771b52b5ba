"""Payments, gateway events, bonus tiers and sandbox charges in the admin."""

import json
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any, cast

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from accounts.models import User
from billing.admin.common import ReadOnlyAdminMixin, _money_or_blank, change_link, money_html
from billing.admin.views.counter import CounterTopupView
from billing.forms import BonusTierForm, format_money
from billing.models import (
    BonusTier,
    GatewayEvent,
    JournalEntry,
    LedgerAccount,
    Payment,
    SandboxCharge,
)
from billing.services.webhooks import gateway_event_replay
from catalog.admin_history import HistoryAdmin

# --- Payments, gateway events, bonus tiers ----------------------------------------------------
#
# Payments and events are read-only too: money is recorded by the counter page
# (billing.admin.views.counter.CounterTopupView, calling `counter_topup_record`) and events are
# replayed by an action calling `gateway_event_replay`. Bonus tiers are plain settings staff keep.

OPEN_TOO_LONG = timedelta(minutes=10)
RECEIPT_SEARCH = re.compile(r"^[Pp](\d{1,12})$")  # P00000012, as receipts print it

REPLAYED = ngettext_lazy(
    "Replayed %(count)d failed event.", "Replayed %(count)d failed events.", "count"
)
NOT_REPLAYED = ngettext_lazy(
    "Skipped %(count)d event that had not failed: only failed events are replayed.",
    "Skipped %(count)d events that had not failed: only failed events are replayed.",
    "count",
)
RULE_PERCENT = _("+%(percent)s%% on top-ups from %(minimum)s")
RULE_FIXED = _("+%(bonus)s on top-ups from %(minimum)s")


@dataclass(frozen=True)
class EntryRow:
    """A journal entry on its payment's page, with its postings formatted for those who may
    read the ledger."""

    entry: JournalEntry
    postings: list[tuple[LedgerAccount, str, str]]

    @classmethod
    def of(cls, entry: JournalEntry, *, with_postings: bool) -> "EntryRow":
        postings = [
            (
                posting.account,
                _money_or_blank(posting.debit, posting.currency),
                _money_or_blank(posting.credit, posting.currency),
            )
            for posting in (entry.postings.all() if with_postings else [])
        ]
        return cls(entry=entry, postings=postings)


class OpenTooLongFilter(admin.SimpleListFilter):
    """Payments a customer is still waiting on well after the sweeper should have settled them."""

    title = _("still open")
    parameter_name = "waiting"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("10m", _("Open for more than 10 minutes"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Payment]) -> QuerySet[Payment]:
        if self.value() == "10m":
            return queryset.filter(
                status__in=Payment.OPEN, created_at__lt=timezone.now() - OPEN_TOO_LONG
            )
        return queryset


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "receipt_number",
        "customer",
        "purpose",
        "amount_display",
        "bonus_display",
        "method",
        "gateway",
        "status",
        "created_at",
        "settled_at",
    )
    list_filter = (
        "status",
        OpenTooLongFilter,
        "gateway",
        "method",
        "purpose",
        "currency",
        "created_at",
    )
    # Also a receipt number or a public id (UUID): get_search_results.
    search_fields = ("customer__email", "gateway_payment_id", "reference")
    search_help_text = _(
        "A receipt number, the customer's email, the gateway's payment id, our public id or "
        "the counter reference."
    )
    list_select_related = ("customer",)
    date_hierarchy = "created_at"
    # The gateway page (redirect_url) is left out: a Stripe Checkout link is the customer's own.
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "receipt_number",
                    "public_id",
                    "customer",
                    "purpose",
                    "order_link",
                    "status",
                    "failure_message",
                )
            },
        ),
        (
            _("Amounts"),
            {
                "fields": (
                    "amount_display",
                    "bonus_display",
                    "bonus_tier",
                    "credited_display",
                    "refunded_display",
                )
            },
        ),
        (
            _("How it was paid"),
            {
                "fields": (
                    "method",
                    "gateway",
                    "reference",
                    "recorded_by",
                    "gateway_payment_id",
                    "gateway_session_id",
                    "gateway_customer_id",
                    "gateway_method_id",
                )
            },
        ),
        (
            _("Dates"),
            {"fields": ("created_at", "settled_at", "confirmation_sent_at", "updated_at")},
        ),
    )
    actions = None
    show_full_result_count = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return flatten_fieldsets(self.fieldsets)

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(
            CounterTopupView.as_view(admin_site=self.admin_site, model_admin=self)
        )
        # Before the admin's own URLs, whose "<object_id>/" would take "counter/".
        return [
            path("counter/", view, name="billing_payment_counter"),
            *super().get_urls(),
        ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Payment]:
        return super().get_queryset(request).select_related("customer")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Payment], search_term: str
    ) -> tuple[QuerySet[Payment], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if _looks_like_uuid(term):
            results |= queryset.filter(public_id=term)
        elif receipt := RECEIPT_SEARCH.match(term):
            results |= queryset.filter(pk=int(receipt.group(1)))
        return results, may_have_duplicates

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = dict(extra_context or {})
        payment = None
        if self.has_view_permission(request):
            payment = self.get_object(request, unquote(object_id))
        if payment is not None:
            may_see_ledger = request.user.has_perm("billing.view_journalentry")
            entries = payment.entries.order_by("created_at", "pk")
            if may_see_ledger:
                entries = entries.prefetch_related("postings__account")
            context.update(
                entries=[EntryRow.of(entry, with_postings=may_see_ledger) for entry in entries],
                may_see_ledger=may_see_ledger,
                events=list(payment.events.order_by("received_at", "pk")),
                may_see_events=request.user.has_perm("billing.view_gatewayevent"),
            )
        return super().change_view(request, object_id, form_url, context)

    @admin.display(description=_("receipt"), ordering="pk")
    def receipt_number(self, obj: Payment) -> str:
        return obj.receipt_number

    @admin.display(description=_("amount"), ordering="amount")
    def amount_display(self, obj: Payment) -> SafeString | str:
        return money_html(obj.amount, obj.currency)

    @admin.display(description=_("bonus"), ordering="bonus")
    def bonus_display(self, obj: Payment) -> SafeString | str:
        return money_html(obj.bonus, obj.currency) if obj.bonus else ""

    @admin.display(description=_("credited to the wallet"))
    def credited_display(self, obj: Payment) -> SafeString | str:
        if obj.purpose != Payment.Purpose.WALLET_TOPUP:
            return ""
        return money_html(obj.credited_money.amount, obj.currency)

    @admin.display(description=_("refunded"))
    def refunded_display(self, obj: Payment) -> SafeString | str:
        return money_html(obj.refunded_amount, obj.currency)

    @admin.display(description=_("order"))
    def order_link(self, obj: Payment) -> SafeString | str:
        return change_link(obj.order, obj.order.number) if obj.order is not None else ""


def _looks_like_uuid(term: str) -> bool:
    try:
        uuid.UUID(term)
    except ValueError:
        return False
    return True


@admin.register(GatewayEvent)
class GatewayEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "gateway",
        "type",
        "event_id",
        "status",
        "attempts",
        "payment_link",
        "received_at",
        "processed_at",
    )
    list_filter = ("status", "gateway", "type")
    search_fields = ("event_id",)
    list_select_related = ("payment",)
    date_hierarchy = "received_at"
    fields = (
        "gateway",
        "event_id",
        "type",
        "status",
        "attempts",
        "payment_link",
        "received_at",
        "processed_at",
        "last_error",
        "payload_pretty",
    )
    readonly_fields = fields
    actions = ("replay_failed",)
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[GatewayEvent]:
        return super().get_queryset(request).select_related("payment")

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("billing.replay_gatewayevent")

    @admin.action(description=_("Replay selected failed events"), permissions=["replay"])
    def replay_failed(self, request: HttpRequest, queryset: QuerySet[GatewayEvent]) -> None:
        actor = cast(User, request.user)
        replayed = skipped = 0
        for event in queryset.order_by("received_at", "pk"):
            if event.status != GatewayEvent.Status.FAILED:
                skipped += 1
                continue
            gateway_event_replay(event=event, actor=actor)
            replayed += 1
        if replayed:
            self.message_user(request, REPLAYED % {"count": replayed}, messages.SUCCESS)
        if skipped:
            self.message_user(request, NOT_REPLAYED % {"count": skipped}, messages.WARNING)

    @admin.display(description=_("payment"), ordering="payment")
    def payment_link(self, obj: GatewayEvent) -> SafeString | str:
        if obj.payment is None:
            return ""
        return change_link(obj.payment, obj.payment.receipt_number)

    @admin.display(description=_("payload"))
    def payload_pretty(self, obj: GatewayEvent) -> SafeString:
        text = json.dumps(obj.payload, indent=2, sort_keys=True, ensure_ascii=False)
        return format_html('<pre class="payload">{}</pre>', text)


class LiveNowFilter(admin.SimpleListFilter):
    title = _("live now")
    parameter_name = "live"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[BonusTier]) -> QuerySet[BonusTier]:
        now = timezone.now()
        live = Q(is_active=True, starts_at__lte=now) & (
            Q(ends_at__isnull=True) | Q(ends_at__gt=now)
        )
        if self.value() == "yes":
            return queryset.filter(live)
        if self.value() == "no":
            return queryset.exclude(live)
        return queryset


@admin.register(BonusTier)
class BonusTierAdmin(HistoryAdmin):
    form = BonusTierForm
    list_display = ("name", "rule", "currency", "starts_at", "ends_at", "is_active", "live_now")
    list_filter = ("currency", LiveNowFilter, "is_active")
    search_fields = ("name",)
    fieldsets = (
        (None, {"fields": ("name", "currency", "min_amount")}),
        (
            _("Bonus"),
            {
                "fields": ("percent", "fixed_bonus"),
                "description": _("Give one: a percentage of the top-up, or a fixed sum."),
            },
        ),
        (_("When"), {"fields": ("starts_at", "ends_at", "is_active")}),
    )

    @admin.display(description=_("rule"), ordering="min_amount")
    def rule(self, obj: BonusTier) -> str:
        minimum = format_money(obj.min_amount, obj.currency)
        if obj.percent is not None:
            return str(
                RULE_PERCENT % {"percent": f"{obj.percent.normalize():f}", "minimum": minimum}
            )
        bonus = format_money(obj.fixed_bonus or Decimal(0), obj.currency)
        return str(RULE_FIXED % {"bonus": bonus, "minimum": minimum})

    @admin.display(description=_("live now"), boolean=True)
    def live_now(self, obj: BonusTier) -> bool:
        now = timezone.now()
        return obj.is_active and obj.starts_at <= now and (obj.ends_at is None or obj.ends_at > now)


@admin.register(SandboxCharge)
class SandboxChargeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The test gateway's own side of each charge, for superusers debugging the sandbox."""

    list_display = (
        "charge_id",
        "reference",
        "amount",
        "currency",
        "status",
        "amount_refunded",
        "created_at",
        "settles_at",
    )
    list_filter = ("status", "currency")
    search_fields = ("charge_id", "=reference")
    # The token is the payment page's address: left out like the payment's redirect_url.
    fields = (
        "charge_id",
        "reference",
        "amount",
        "currency",
        "description",
        "status",
        "amount_refunded",
        "customer_ref",
        "method_ref",
        "webhook_url",
        "return_url",
        "settles_at",
        "created_at",
    )
    readonly_fields = fields
    actions = None

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)
