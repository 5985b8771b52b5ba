"""Billing's own HTTP endpoints: gateway webhooks, and the sandbox gateway's payment page.
The customer's pages (top-up, history, receipts) live in storefront."""

import logging

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from billing.gateways import GatewayError, UnknownGateway, WebhookInvalid
from billing.gateways import sandbox as sandbox_gateway
from billing.services.webhooks import gateway_event_receive

logger = logging.getLogger(__name__)


@csrf_exempt
def webhook_receive_view(request: HttpRequest, gateway: str) -> HttpResponse:
    """Verify, store, answer at once; a Celery task processes the event after commit."""
    if request.method != "POST":
        return HttpResponse(status=405, headers={"Allow": "POST"})
    try:
        event = gateway_event_receive(gateway=gateway, body=request.body, headers=request.headers)
    except UnknownGateway:
        raise Http404 from None
    except WebhookInvalid as exc:
        logger.warning("refused a %s webhook: %s", gateway, exc)
        return HttpResponse("invalid signature or event", status=400, content_type="text/plain")
    return HttpResponse(
        "duplicate" if event is None else "ok", status=200, content_type="text/plain"
    )


class SandboxPageView(View):
    """The sandbox gateway's hosted page: Pay, Decline, or Pay in 2 minutes."""

    template_name = "billing/sandbox_page.html"
    actions = {
        "pay": sandbox_gateway.sandbox_pay,
        "decline": sandbox_gateway.sandbox_decline,
        "later": sandbox_gateway.sandbox_pay_later,
    }

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        charge = sandbox_gateway.sandbox_charge_for_page(token=token)
        if charge is None:
            raise Http404
        return render(request, self.template_name, {"charge": charge})

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        charge = sandbox_gateway.sandbox_charge_for_page(token=token)
        action = self.actions.get(request.POST.get("action", ""))
        if charge is None:
            raise Http404
        if action is None:
            return render(
                request,
                self.template_name,
                {"charge": charge, "error": _("Choose an action.")},
                status=400,
            )
        try:
            action(token=token)
        except GatewayError:
            messages.info(request, _("This test payment was already completed."))
        return HttpResponseRedirect(charge.return_url)
