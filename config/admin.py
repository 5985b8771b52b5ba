"""The staff console's admin site: allauth's login, and the reseller's dashboard on the index.

Installed through config.apps.SimdeskAdminConfig, so `admin.site`, and every @admin.register,
is this site.
"""

from typing import Any

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from billing.selectors import dashboard

# The finance pages the dashboard links to, and the permission each needs.
FINANCE_PERMISSIONS = {
    "reports": "billing.view_financial_reports",
    "reconciliation": "billing.run_reconciliation",
    "payouts": "billing.record_payout",
    "refunds": "billing.view_refund",
    "ledger": "billing.view_ledgeraccount",
    "journal": "billing.view_journalentry",
}


class SimdeskAdminSite(admin.AdminSite):
    site_header = _("Simdesk staff console")
    site_title = _("Simdesk staff console")
    index_title = _("Staff console")

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        # The admin signs in through allauth: its rate limits and MFA apply to staff too.
        view = secure_admin_login(super().login)
        response: HttpResponse = view(request, extra_context)
        return response

    def index(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        context = {"dashboard": dashboard_context(request), **(extra_context or {})}
        return super().index(request, extra_context=context)


def dashboard_context(request: HttpRequest) -> dict[str, Any]:
    """The dashboard's sections the user may see: each needs the view permission of what it
    shows (sales of orders, refunds and top-ups; stock of plans; payments; renewals; support)."""
    can = request.user.has_perm
    context: dict[str, Any] = {}
    sales = []
    if can("billing.view_order"):
        sales += [("orders", _("Paid orders"), row) for row in dashboard.sales_paid_orders()]
        context["awaiting_stock"] = dashboard.orders_awaiting_stock()
    if can("billing.view_refund"):
        sales += [("refunds", _("Refunds"), row) for row in dashboard.sales_refunds()]
    if can("billing.view_payment"):
        sales += [("topups", _("Wallet top-ups"), row) for row in dashboard.sales_wallet_topups()]
        context["payments_stuck"] = dashboard.payments_stuck()
    if any(can(f"billing.view_{name}") for name in ("order", "refund", "payment")):
        # Grouped by currency; within one, orders, refunds, top-ups (the stable sort keeps it).
        context["sales"] = sorted(sales, key=lambda item: item[2].currency)
    if can("catalog.view_plan"):
        context["stock"] = dashboard.plans_stock()
    if can("billing.view_renewal"):
        context["renewals_failed"] = dashboard.renewals_failed()
    if can("billing.view_supportrequest"):
        context["support_open"] = dashboard.support_requests_open()
    finance = {name: can(permission) for name, permission in FINANCE_PERMISSIONS.items()}
    if any(finance.values()):
        context["finance"] = finance
    return context
