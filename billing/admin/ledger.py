"""The ledger in the admin, read-only for everyone: accounts, entries, postings."""

from typing import Any

from django.contrib import admin
from django.db.models import Max, Min, Q, QuerySet, Sum
from django.http import HttpRequest
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from billing.admin.common import (
    MEMO_LIST_LENGTH,
    AccountHolderFilter,
    EntryMadeByFilter,
    PostingAccountHolderFilter,
    PostingMoneyColumns,
    ReadOnlyAdminMixin,
    money_html,
)
from billing.admin.views.ledger import (
    LedgerAccountStatementView,
    WalletAdjustView,
    WalletOpenView,
    statement_url,
)
from billing.admin.views.reports import REPORT_URLS
from billing.models import (
    JournalEntry,
    LedgerAccount,
    Posting,
)


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
            *(path(route, view(view_class), name=name) for route, view_class, name in REPORT_URLS),
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
