"""Pieces the billing admin pages share: money cells, read-only admins, account filters."""

from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from billing.forms import format_money
from billing.models import (
    JournalEntry,
    Posting,
)

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


def change_link(obj: Any, text: Any) -> SafeString:
    """A link to `obj`'s page in the admin."""
    opts = obj._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, text)


def _money_or_blank(amount: Decimal | None, currency: str) -> str:
    return format_money(amount, currency) if amount is not None else ""
