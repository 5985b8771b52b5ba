"""refund/queue/: finance's refund queue.

Requests waiting for a decision, oldest first, each beside what it is judged on: the order,
its payment, the eSIM and its current bundle, the customer, the reason and how long it has
waited; with links to the approve and reject pages for those who may decide. Below them the
approved refunds still processing at the payment gateway, which may need chasing.

Mounted by RefundAdmin.get_urls() through `admin_site.admin_view`.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib import admin
from django.contrib.admin import AdminSite, ModelAdmin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.views import View

from billing.admin.views.refunds import DECIDE_REFUND_PERMISSION, RefundFacts, refund_facts
from billing.forms import format_money
from billing.models import Refund
from billing.selectors.refunds import refund_queue

QUEUE_TITLE = _("Refund queue")


@dataclass(frozen=True)
class QueueRow:
    """One open refund with its facts and the time it has waited since."""

    refund: Refund
    facts: RefundFacts
    amount: str
    captured: str  # what the payment took, when the order went through a gateway
    waiting_since: datetime


class RefundQueueView(View):
    admin_site: AdminSite = admin.site
    model_admin: "ModelAdmin[Refund] | None" = None
    template_name = "admin/billing/refund/queue.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        model_admin = self.model_admin
        assert model_admin is not None, "mounted by RefundAdmin.get_urls()"
        if not model_admin.has_view_permission(request):
            raise PermissionDenied
        requested: list[QueueRow] = []
        processing: list[QueueRow] = []
        for refund in refund_queue():
            if refund.status == Refund.Status.REQUESTED:
                requested.append(_row(refund, refund.created_at))
            else:
                processing.append(_row(refund, refund.decided_at or refund.created_at))
        opts = Refund._meta
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "title": str(QUEUE_TITLE),
            "opts": opts,
            "app_label": opts.app_label,
            "has_view_permission": True,
            "may_decide": request.user.has_perm(DECIDE_REFUND_PERMISSION),
            "requested": requested,
            "processing": processing,
        }
        return TemplateResponse(request, self.template_name, context)


def _row(refund: Refund, since: datetime) -> QueueRow:
    facts = refund_facts(refund)
    payment = facts.payment
    return QueueRow(
        refund=refund,
        facts=facts,
        amount=format_money(refund.amount, refund.currency),
        captured=format_money(payment.amount, payment.currency)
        if payment is not None and payment.is_captured
        else "",
        waiting_since=since,
    )
