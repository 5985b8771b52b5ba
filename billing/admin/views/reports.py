"""Finance reports in the staff console: the trial balance, the balance sheet, the income
summary, the journal and the wallet liabilities, each on a page and as CSV (`?format=csv`).

Mounted by LedgerAccountAdmin.get_urls(); every page needs billing.view_financial_reports.
Each reads its day or period from the query string through a form: bad input shows the form's
message on the page, never an error.
"""

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin import AdminSite, ModelAdmin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views import View

from billing import exports
from billing.forms_reports import ReportDayForm, ReportPeriodForm, bound_or_default
from billing.models import LedgerAccount
from billing.selectors.reports import (
    balance_sheet,
    books_at,
    income_summary,
    journal_count,
    wallet_liabilities,
)

REPORTS_PERMISSION = "billing.view_financial_reports"
CSV_FORMAT = "csv"

INDEX_TITLE = _("Finance reports")
TRIAL_BALANCE_TITLE = _("Trial balance")
BALANCE_SHEET_TITLE = _("Balance sheet")
INCOME_TITLE = _("Income summary")
JOURNAL_TITLE = _("Journal export")
WALLETS_TITLE = _("Wallet liabilities")


def wants_csv(request: HttpRequest) -> bool:
    return request.GET.get("format") == CSV_FORMAT


class ReportView(View):
    """A finance report page: permission, the form, the page or its CSV."""

    admin_site: AdminSite = admin.site
    model_admin: "ModelAdmin[LedgerAccount] | None" = None
    template_name = ""
    title: Any = ""
    form_class: type[forms.Form] | None = None

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.has_perm(REPORTS_PERMISSION):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponseBase:
        form = bound_or_default(self.form_class, request.GET) if self.form_class else None
        if form is not None and not form.is_valid():
            return self.render(request, form=form)
        data = form.cleaned_data if form is not None else {}
        export = self.csv(**data) if wants_csv(request) else None
        if export is not None:
            return export
        return self.render(request, form=form, **self.report(**data))

    def report(self, **data: Any) -> dict[str, Any]:
        return {}

    def csv(self, **data: Any) -> HttpResponseBase | None:
        """The report as CSV; None for a page that has none (the index shows itself)."""
        return None

    def render(self, request: HttpRequest, **context: Any) -> TemplateResponse:
        opts = LedgerAccount._meta
        model_admin = self.model_admin
        return TemplateResponse(
            request,
            self.template_name,
            {
                **self.admin_site.each_context(request),
                "title": self.title,
                "opts": opts,
                "app_label": opts.app_label,
                "has_view_permission": model_admin is not None
                and model_admin.has_view_permission(request),
                "reports_url": reverse("admin:billing_reports"),
                "csv_query": _csv_query(request),
                **context,
            },
        )


def _csv_query(request: HttpRequest) -> str:
    query = request.GET.copy()
    query["format"] = CSV_FORMAT
    return query.urlencode()


class ReportsIndexView(ReportView):
    template_name = "admin/billing/reports/index.html"
    title = INDEX_TITLE


class TrialBalanceView(ReportView):
    template_name = "admin/billing/reports/trial_balance.html"
    title = TRIAL_BALANCE_TITLE
    form_class = ReportDayForm

    def report(self, **data: Any) -> dict[str, Any]:
        return {"books": books_at(data["day"]), "day": data["day"]}

    def csv(self, **data: Any) -> HttpResponseBase:
        return exports.trial_balance_csv(books_at(data["day"]), data["day"])


class BalanceSheetView(ReportView):
    template_name = "admin/billing/reports/balance_sheet.html"
    title = BALANCE_SHEET_TITLE
    form_class = ReportDayForm

    def report(self, **data: Any) -> dict[str, Any]:
        return {"sheets": balance_sheet(day=data["day"]), "day": data["day"]}

    def csv(self, **data: Any) -> HttpResponseBase:
        return exports.balance_sheet_csv(balance_sheet(day=data["day"]), data["day"])


class IncomeSummaryView(ReportView):
    template_name = "admin/billing/reports/income.html"
    title = INCOME_TITLE
    form_class = ReportPeriodForm

    def report(self, **data: Any) -> dict[str, Any]:
        return {"summaries": income_summary(**data), **data}

    def csv(self, **data: Any) -> HttpResponseBase:
        return exports.income_csv(income_summary(**data), data["date_from"], data["date_to"])


class JournalExportView(ReportView):
    template_name = "admin/billing/reports/journal.html"
    title = JOURNAL_TITLE
    form_class = ReportPeriodForm

    def report(self, **data: Any) -> dict[str, Any]:
        entries, postings = journal_count(**data)
        return {"entries": entries, "postings": postings, **data}

    def csv(self, **data: Any) -> HttpResponseBase:
        return exports.journal_csv(**data)


class WalletLiabilitiesView(ReportView):
    template_name = "admin/billing/reports/wallets.html"
    title = WALLETS_TITLE

    def report(self, **data: Any) -> dict[str, Any]:
        return {"liabilities": wallet_liabilities()}

    def csv(self, **data: Any) -> HttpResponseBase:
        return exports.wallets_csv(wallet_liabilities())


REPORT_URLS = (
    ("reports/", ReportsIndexView, "billing_reports"),
    ("reports/trial-balance/", TrialBalanceView, "billing_report_trial_balance"),
    ("reports/balance-sheet/", BalanceSheetView, "billing_report_balance_sheet"),
    ("reports/income/", IncomeSummaryView, "billing_report_income"),
    ("reports/journal/", JournalExportView, "billing_report_journal"),
    ("reports/wallets/", WalletLiabilitiesView, "billing_report_wallets"),
)
