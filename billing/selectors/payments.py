"""Reading payments for the customer's own pages: their top-ups, one top-up, a receipt.

Every selector is scoped to the customer: another customer's payment is simply not found.
"""

from typing import TYPE_CHECKING
from uuid import UUID

from django.db.models import QuerySet

from billing.models import Payment

if TYPE_CHECKING:
    from accounts.models import User


def customer_topups(*, user: "User") -> QuerySet[Payment]:
    """The customer's wallet top-ups in every status, newest first, gateway and counter alike."""
    return (
        Payment.objects.filter(customer=user, purpose=Payment.Purpose.WALLET_TOPUP)
        .select_related("bonus_tier")
        .order_by("-created_at", "-id")
    )


def customer_topup(*, user: "User", public_id: UUID) -> Payment | None:
    """One of the customer's top-ups, or None when there is none with this id (or not theirs)."""
    return customer_topups(user=user).filter(public_id=public_id).first()


def customer_receipt(*, user: "User", public_id: UUID) -> Payment | None:
    """A top-up whose money was captured, with the customer for the receipt's heading."""
    return (
        customer_topups(user=user)
        .filter(public_id=public_id, status__in=Payment.CAPTURED)
        .select_related("customer")
        .first()
    )
