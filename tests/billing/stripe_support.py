"""Helpers for the Stripe gateway's tests: the localstripe server `make test` starts, a client
for the test's own requests to it, and a stand-in for Stripe's HTTP that answers Checkout
Session requests (which localstripe lacks) with Stripe's own example object."""

import copy
import json
import os
import secrets
import urllib.parse
import urllib.request
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import stripe

API_KEY = "sk_test_12345"
WEBHOOK_SECRET = "whsec_test_simdesk_5b1f0c2e"
LOCALSTRIPE = os.environ.get("STRIPE_TEST_API_BASE", "").rstrip("/")

needs_localstripe = pytest.mark.skipif(
    not LOCALSTRIPE,
    reason="STRIPE_TEST_API_BASE is not set: run `make test`, or start "
    "`.venv/bin/localstripe --from-scratch --port 8420` and export "
    "STRIPE_TEST_API_BASE=http://127.0.0.1:8420",
)

# Stripe's example objects, as its OpenAPI fixtures publish them (the kinds used here, copied
# from fixtures3.json so a fresh clone has them).
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures/stripe/examples.json"

# Test cards, as Stripe (and localstripe) treat them.
CARD_OK = "4242424242424242"
CARD_DECLINED = "4000000000000341"  # attaches to a customer, then every charge is declined


@cache
def _fixtures() -> dict[str, Any]:
    return json.loads(FIXTURES.read_text())["resources"]


def example(kind: str) -> dict[str, Any]:
    """Stripe's example object of `kind` ("checkout.session", "customer"); skips without it."""
    if not FIXTURES.exists():
        pytest.skip(f"Stripe's example objects are missing: {FIXTURES}")
    return copy.deepcopy(_fixtures()[kind])


def localstripe_client() -> stripe.StripeClient:
    """The test's own client, for what a customer or Stripe itself does (cards, confirmations)."""
    return stripe.StripeClient(API_KEY, base_addresses={"api": LOCALSTRIPE})


def card_method(client: stripe.StripeClient, number: str, customer_id: str = "") -> str:
    method = client.v1.payment_methods.create(
        {
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    if customer_id:
        client.v1.payment_methods.attach(method.id, {"customer": customer_id})
    return method.id


def webhook_register(webhook_id: str, url: str, secret: str, events: list[str]) -> None:
    """localstripe's own configuration endpoint: send these events to `url`, signed."""
    fields = [("url", url), ("secret", secret)]
    fields += [(f"events[{i}]", kind) for i, kind in enumerate(events)]
    request = urllib.request.Request(
        f"{LOCALSTRIPE}/_config/webhooks/{webhook_id}",
        data=urllib.parse.urlencode(fields).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def webhook_disable(webhook_id: str) -> None:
    """localstripe cannot forget a webhook: it is left listening for an event that never comes."""
    webhook_register(webhook_id, "http://127.0.0.1:9/", "whsec_off", ["simdesk.test.none"])


# --- Stripe's HTTP, stood in for --------------------------------------------------------


@dataclass
class Sent:
    """One request the stripe library sent: its method, URL, headers and form fields, flat
    as they go over the wire (`line_items[0][price_data][unit_amount]`)."""

    method: str
    url: str
    headers: dict[str, str]
    form: dict[str, str]

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("Idempotency-Key")

    def under(self, prefix: str) -> dict[str, str]:
        """The fields under `prefix` (`payment_method_options`), prefix included."""
        return {k: v for k, v in self.form.items() if k == prefix or k.startswith(prefix + "[")}


class StripeHTTP:
    """Installed in place of the stripe library's HTTP client (RequestsClient.request): records
    every request; answers Checkout Session requests with Stripe's example session (its id, url
    and payment_intent kept, the rest echoing the request). Other requests go on to localstripe
    with `passthrough`, or get Stripe's example customer / a 404."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, passthrough: bool = False) -> None:
        self.sent: list[Sent] = []
        self.sessions: dict[str, dict[str, Any]] = {}
        self.passthrough = passthrough
        # (method, path) -> (status, error object): Stripe refuses that request.
        self.refusals: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
        original = stripe.RequestsClient.request
        stub = self

        def request(client, method, url, headers, post_data=None, **kwargs):
            sent = stub._record(method, url, headers, post_data)
            answer = stub._answer(sent)
            if answer is not None:
                return answer
            return original(client, method, url, headers, post_data, **kwargs)

        monkeypatch.setattr(stripe.RequestsClient, "request", request)

    def to(self, path: str) -> list[Sent]:
        return [s for s in self.sent if s.path == path]

    def refuse(self, method: str, path: str, status: int, **error: Any) -> None:
        self.refusals[(method, path)] = (status, error)

    def _record(self, method: str, url: str, headers: Any, post_data: Any) -> Sent:
        body = post_data.decode() if isinstance(post_data, bytes) else post_data or ""
        query = urlsplit(url).query
        sent = Sent(
            method, url, dict(headers or {}), dict(parse_qsl(body or query, keep_blank_values=True))
        )
        self.sent.append(sent)
        return sent

    def _answer(self, sent: Sent) -> tuple[str, int, dict[str, str]] | None:
        refusal = self.refusals.get((sent.method, sent.path))
        if refusal is not None:
            status, error = refusal
            return _response({"error": error}, status)
        if sent.path == "/v1/checkout/sessions" and sent.method == "post":
            return _response(self._session_create(sent.form))
        if sent.path.startswith("/v1/checkout/sessions/") and sent.method == "get":
            session = self.sessions.get(sent.path.rsplit("/", 1)[1])
            if session is None:
                return _response({"error": {"type": "invalid_request_error"}}, 404)
            return _response(session)
        if self.passthrough:
            return None
        if sent.path == "/v1/customers" and sent.method == "post":
            customer = example("customer")
            customer.update(
                email=sent.form.get("email"), metadata={"user": sent.form.get("metadata[user]")}
            )
            return _response(customer)
        return _response({"error": {"type": "invalid_request_error", "message": "no stub"}}, 404)

    def _session_create(self, form: dict[str, str]) -> dict[str, Any]:
        session = example("checkout.session")
        if self.sessions:  # a second page in one test needs ids of its own
            n = len(self.sessions) + 1
            session["id"] += f"_{n}"
            session["url"] += f"_{n}"
            session["payment_intent"] += f"_{n}"
        session.update(
            client_reference_id=form.get("client_reference_id"),
            customer=form.get("customer"),
            metadata={"payment": form.get("metadata[payment]")},
            success_url=form.get("success_url"),
            cancel_url=form.get("cancel_url"),
            expires_at=int(form["expires_at"]),
            currency=form.get("line_items[0][price_data][currency]"),
            amount_total=int(form["line_items[0][price_data][unit_amount]"]),
            payment_method_types=[form.get("allowed_payment_method_types[0]")],
        )
        self.sessions[session["id"]] = session
        return session


def _response(body: dict[str, Any], status: int = 200) -> tuple[str, int, dict[str, str]]:
    return json.dumps(body), status, {"request-id": f"req_test_{secrets.token_hex(6)}"}
