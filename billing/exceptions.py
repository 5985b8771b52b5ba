"""Billing's own exceptions. Forms turn them into messages; nothing is written when one is raised."""

from typing import TYPE_CHECKING

from djmoney.money import Money

if TYPE_CHECKING:
    from billing.models import LedgerAccount


class LedgerError(Exception):
    """A posting the ledger refuses: nothing was written."""


class InvalidLines(LedgerError):
    """The lines of an entry do not make a valid journal entry (see the message)."""


class IdempotencyConflict(LedgerError):
    """The idempotency key was already used for an entry with other lines."""

    def __init__(self, key: str) -> None:
        super().__init__(f"idempotency key {key!r} was already used with other lines")
        self.key = key


class InsufficientFunds(LedgerError):
    """A wallet holds less than the debit asks for."""

    def __init__(self, *, account: "LedgerAccount", balance: Money, requested: Money) -> None:
        self.account = account
        self.balance = balance
        self.requested = requested
        self.shortfall = requested - balance
        super().__init__(
            f"account {account.pk} holds {balance.amount} {balance.currency}, "
            f"short by {self.shortfall.amount} {self.shortfall.currency}"
        )


class PaymentError(Exception):
    """A payment the services refuse; the message is shown to the customer or staff as is."""


class TopupRefused(PaymentError):
    """A top-up outside the limits, in a currency not offered, or by a method not available."""


class PaymentNotReady(PaymentError):
    """An event that cannot apply yet (a refund of a payment not yet captured): retried later."""


class AmountMismatch(PaymentError):
    """The gateway captured another amount than the payment asked for: staff must look."""


class OrderError(Exception):
    """An order, coupon, card or refund the services refuse; the message is for the customer
    or staff as is, and nothing was written."""


class OrderRefused(OrderError):
    """A plan not offered, a quantity out of range, an order no longer payable..."""


class CouponRefused(OrderError):
    """A coupon that does not exist, has expired, is used up or does not apply."""


class CardRefused(OrderError):
    """An ICCID we did not sell, an expired card, or an add-on that does not fit it."""


class RefundRefused(OrderError):
    """A refund outside the window, of an installed eSIM, or larger than what is left."""


class PayoutRefused(Exception):
    """A payout that cannot be recorded (see the message); nothing was written."""


class ReconciliationRefused(Exception):
    """A discrepancy that cannot be resolved this way (see the message); nothing was written."""
