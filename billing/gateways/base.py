"""The one interface every payment gateway implements, and the facts it returns.

A gateway never touches our tables beyond its own records: it answers questions and parses
events, and the payment services decide what to do with the answers.
"""

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from djmoney.money import Money

if TYPE_CHECKING:
    from accounts.models import User
    from billing.models import Payment


class GatewayError(Exception):
    """The gateway refused or could not be reached; the message is safe to show staff."""


class WebhookInvalid(Exception):
    """A webhook whose signature, timestamp or body does not verify: answered 400."""


@dataclass(frozen=True)
class Checkout:
    """Where to send the customer's browser, and the gateway's ids for what it opened."""

    redirect_url: str
    session_id: str = ""
    payment_id: str = ""
    customer_id: str = ""


@dataclass(frozen=True)
class PaymentUpdate:
    """What a gateway says about one payment, from an event or a look-up.

    `reference` is our Payment.public_id when the gateway echoes it; otherwise the payment is
    found by `gateway_payment_id`. `status` is one of Payment.Status (pending, succeeded,
    failed, canceled) or "" when the update only reports refunds.
    """

    reference: str = ""
    gateway_payment_id: str = ""
    status: str = ""
    amount: Money | None = None  # what the gateway captured, checked against the payment
    amount_refunded: Money | None = None  # cumulative, so order of events does not matter
    failure_message: str = ""
    customer_id: str = ""
    method_id: str = ""  # a payment method saved for off-session charges


@dataclass(frozen=True)
class GatewayEventData:
    event_id: str
    type: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class Refund:
    refund_id: str
    status: str  # the gateway's word: succeeded, pending, failed
    amount: Money


TransactionKind = Literal["payment", "refund", "payout"]


@dataclass(frozen=True)
class GatewayTransaction:
    """One movement of money at the gateway, as its own records show it (for reconciliation).

    `payment_ref` is the gateway's payment id as we store it in Payment.gateway_payment_id
    (Stripe's PaymentIntent, the sandbox's charge id); `refund_id` is set for refunds. `amount`
    is the gross: positive for a payment, negative for a refund or a payout; `fee` is what the
    gateway kept (zero when it keeps nothing). `created` is an aware datetime.
    """

    id: str
    kind: TransactionKind
    amount: Money
    fee: Money
    created: datetime
    payment_ref: str = ""
    refund_id: str = ""

    @property
    def key(self) -> str:
        """What the ledger's side is matched on: payment id, refund id or payout id."""
        if self.kind == "payment":
            return self.payment_ref
        if self.kind == "refund":
            return self.refund_id
        return self.id


class Gateway(ABC):
    name: str

    @abstractmethod
    def checkout_start(
        self, *, payment: "Payment", return_url: str, cancel_url: str, webhook_url: str
    ) -> Checkout:
        """Open the gateway's page for a payment with the customer present."""

    @abstractmethod
    def webhook_verify(self, *, body: bytes, headers: Mapping[str, str]) -> GatewayEventData:
        """Check the signature and the timestamp, and return the event; or raise WebhookInvalid."""

    @abstractmethod
    def event_parse(self, payload: dict[str, Any]) -> PaymentUpdate | None:
        """What a stored event says about a payment; None for events we do not act on."""

    @abstractmethod
    def payment_lookup(self, *, payment: "Payment") -> PaymentUpdate:
        """Ask the gateway where a payment stands (the sweeper's question)."""

    @abstractmethod
    def refund_create(self, *, payment: "Payment", amount: Money, idempotency_key: str) -> Refund:
        """Give back all or part of a captured payment."""

    @abstractmethod
    def saved_method_charge(
        self, *, payment: "Payment", customer: "User", customer_id: str, method_id: str
    ) -> PaymentUpdate:
        """Charge a saved payment method with the customer away (auto-renewal)."""

    @abstractmethod
    def transactions_list(self, *, start: datetime, end: datetime) -> list[GatewayTransaction]:
        """Payments, refunds and payouts made from `start` (inclusive) to `end` (exclusive);
        raises GatewayError when the gateway cannot be reached."""
