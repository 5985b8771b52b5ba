"""Billing in the staff console. The ledger, payments and gateway events are read-only for
everyone, superusers included; bonus tiers are kept here by reseller staff.

Money moves through services only. The admin shows accounts, entries and postings, an account's
statement, payments and gateway events, and the money pages (billing.admin_views): Finance's
wallet adjustments (`wallet_adjust`) and money received at the counter (`counter_topup_record`).
Replaying a failed event is an action calling `gateway_event_replay`. Nothing here saves a
ledger row, a payment or an event.

Coupons are kept by reseller staff; orders and refunds are read-only, fulfilled again by an
action calling `order_fulfil` and refunded through finance's pages (`refund_issue`,
`refund_approve`, `refund_reject`).
"""

import contextlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any, cast

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.exceptions import ValidationError
from django.db.models import Case, Max, Min, Q, QuerySet, Sum, Value, When
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from accounts.models import User
from billing.admin_views import (
    DECIDE_REFUND_PERMISSION,
    CounterTopupView,
    LedgerAccountStatementView,
    OrderRefundView,
    RefundApproveView,
    RefundRejectView,
    WalletAdjustView,
    WalletOpenView,
    refund_facts,
    statement_url,
)
from billing.forms import BonusTierForm, CouponAdminForm, format_money
from billing.models import (
    BonusTier,
    Coupon,
    Delivery,
    GatewayEvent,
    JournalEntry,
    LedgerAccount,
    Order,
    OrderLine,
    Payment,
    Posting,
    Refund,
    SandboxCharge,
)
from billing.services.fulfilment import FULFILLABLE, order_fulfil
from billing.services.webhooks import gateway_event_replay
from catalog.validation import normalize_iccid

MEMO_LIST_LENGTH = 60


def money_html(amount: Decimal | None, currency: str) -> SafeString | str:
    """The amount with its currency, right-aligned by the billing admin's stylesheet."""
    if amount is None:
        return ""
    return format_html('<span class="money">{}</span>', format_money(amount, currency))


class ReadOnlyAdminMixin:
    """Nobody adds, changes or deletes ledger rows here; the view permission shows them."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PostingMoneyColumns:
    """A posting's signed amount as the debit and credit columns accountants read."""

    @admin.display(description=_("debit"))
    def debit_money(self, obj: Posting) -> SafeString | str:
        return money_html(obj.debit, obj.currency)

    @admin.display(description=_("credit"))
    def credit_money(self, obj: Posting) -> SafeString | str:
        return money_html(obj.credit, obj.currency)


class AccountHolderFilter(admin.SimpleListFilter):
    """A customer's wallet or one of the business's own accounts."""

    title = _("holder")
    parameter_name = "holder"
    owner_lookup = "owner__isnull"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("wallet", _("Customer wallets")), ("business", _("Business accounts"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "wallet":
            return queryset.filter(**{self.owner_lookup: False})
        if self.value() == "business":
            return queryset.filter(**{self.owner_lookup: True})
        return queryset


class PostingAccountHolderFilter(AccountHolderFilter):
    owner_lookup = "account__owner__isnull"


class EntryMadeByFilter(admin.SimpleListFilter):
    title = _("made by")
    parameter_name = "made_by"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("staff", _("Staff")), ("system", _("The system"))]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[JournalEntry]
    ) -> QuerySet[JournalEntry]:
        if self.value() == "staff":
            return queryset.filter(created_by__isnull=False)
        if self.value() == "system":
            return queryset.filter(created_by__isnull=True)
        return queryset


@admin.register(LedgerAccount)
class LedgerAccountAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "type",
        "purpose",
        "currency",
        "owner",
        "balance_money",
        "statement_link",
    )
    list_filter = ("type", "purpose", "currency", AccountHolderFilter, "created_at")
    search_fields = ("code", "name", "owner__email")
    list_select_related = ("owner",)
    fields = ("code", "name", "type", "purpose", "currency", "owner", "balance_money", "created_at")
    readonly_fields = fields
    actions = None

    def get_urls(self) -> list[URLPattern]:
        def view(view_class: Any) -> Any:
            return self.admin_site.admin_view(
                view_class.as_view(admin_site=self.admin_site, model_admin=self)
            )

        # Before the admin's own URLs, whose "<object_id>/" would take "adjust/".
        return [
            path(
                "adjust/",
                view(WalletOpenView),
                name="billing_ledgeraccount_open_wallet",
            ),
            path(
                "<path:object_id>/statement/",
                view(LedgerAccountStatementView),
                name="billing_ledgeraccount_statement",
            ),
            path(
                "<path:object_id>/adjust/",
                view(WalletAdjustView),
                name="billing_ledgeraccount_adjust",
            ),
            *super().get_urls(),
        ]

    @admin.display(description=_("balance"), ordering="balance")
    def balance_money(self, obj: LedgerAccount) -> SafeString | str:
        return money_html(obj.balance, obj.currency)

    @admin.display(description=_("statement"))
    def statement_link(self, obj: LedgerAccount) -> SafeString:
        return format_html('<a href="{}">{}</a>', statement_url(obj), _("Statement"))


class PostingInline(ReadOnlyAdminMixin, PostingMoneyColumns, admin.TabularInline):
    model = Posting
    fields = ("account", "debit_money", "credit_money", "currency")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Posting]:
        return super().get_queryset(request).select_related("account")


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "created_at",
        "kind",
        "memo_short",
        "amount_money",
        "created_by",
        "idempotency_key",
    )
    list_display_links = ("id", "created_at")
    list_filter = ("kind", EntryMadeByFilter, "created_at")
    search_fields = ("memo", "idempotency_key", "created_by__email")
    list_select_related = ("created_by",)
    date_hierarchy = "created_at"
    fields = (
        "kind",
        "memo",
        "created_by",
        "created_at",
        "idempotency_key",
        "import_batch",
        "payment",
    )
    readonly_fields = fields
    inlines = (PostingInline,)
    actions = None
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[JournalEntry]:
        # The entry's size is what it debits; a two-currency entry shows none.
        return (
            super()
            .get_queryset(request)
            .annotate(
                debit_total=Sum("postings__amount", filter=Q(postings__amount__gt=0)),
                currency_first=Min("postings__currency"),
                currency_last=Max("postings__currency"),
            )
        )

    @admin.display(description=_("memo"))
    def memo_short(self, obj: JournalEntry) -> str:
        return Truncator(obj.memo).chars(MEMO_LIST_LENGTH)

    @admin.display(description=_("amount"))
    def amount_money(self, obj: JournalEntry) -> SafeString | str:
        currency = getattr(obj, "currency_first", None)
        if currency is None or currency != getattr(obj, "currency_last", None):
            return ""
        return money_html(getattr(obj, "debit_total", None), currency)


@admin.register(Posting)
class PostingAdmin(ReadOnlyAdminMixin, PostingMoneyColumns, admin.ModelAdmin):
    list_display = (
        "id",
        "entry_link",
        "entry_created_at",
        "entry_kind",
        "account",
        "account_owner",
        "debit_money",
        "credit_money",
        "currency",
    )
    list_filter = (
        "currency",
        "entry__kind",
        "account__type",
        "account__purpose",
        PostingAccountHolderFilter,
        "entry__created_at",
    )
    search_fields = (
        "account__code",
        "account__name",
        "account__owner__email",
        "entry__memo",
        "entry__idempotency_key",
    )
    list_select_related = ("entry", "account", "account__owner")
    date_hierarchy = "entry__created_at"
    fields = ("entry", "account", "debit_money", "credit_money", "currency")
    readonly_fields = fields
    actions = None
    show_full_result_count = False

    @admin.display(description=_("journal entry"), ordering="entry")
    def entry_link(self, obj: Posting) -> SafeString:
        url = reverse("admin:billing_journalentry_change", args=[obj.entry_id])
        return format_html('<a href="{}">{}</a>', url, obj.entry)

    @admin.display(description=_("date"), ordering="entry__created_at")
    def entry_created_at(self, obj: Posting) -> Any:
        return obj.entry.created_at

    @admin.display(description=_("kind"), ordering="entry__kind")
    def entry_kind(self, obj: Posting) -> str:
        return obj.entry.get_kind_display()

    @admin.display(description=_("owner"), ordering="account__owner__email")
    def account_owner(self, obj: Posting) -> Any:
        return obj.account.owner


# --- Payments, gateway events, bonus tiers ----------------------------------------------------
#
# Payments and events are read-only too: money is recorded by the counter page
# (billing.admin_views.CounterTopupView, calling `counter_topup_record`) and events are replayed
# by an action calling `gateway_event_replay`. Bonus tiers are plain settings staff keep.

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


def change_link(obj: Any, text: Any) -> SafeString:
    """A link to `obj`'s page in the admin."""
    opts = obj._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, text)


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


def _money_or_blank(amount: Decimal | None, currency: str) -> str:
    return format_money(amount, currency) if amount is not None else ""


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
class BonusTierAdmin(admin.ModelAdmin):
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


# --- Coupons, orders, refunds -----------------------------------------------------------------
#
# Coupons are kept here by reseller staff. Orders and refunds are read-only: an order is
# fulfilled again by an action calling `order_fulfil`, refunded by finance through the order's
# refund page (`refund_issue`), and a customer's request is approved or rejected on the
# refund's own pages (`refund_approve`, `refund_reject`); see billing.admin_views.

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
class CouponAdmin(admin.ModelAdmin):
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

        # Before the admin's own URLs, whose "<object_id>/" would take "12/approve/".
        return [
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
