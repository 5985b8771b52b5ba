"""Change history read back for the admin: a plan's prices, version by version."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from catalog.models import PlanPrice


@dataclass(frozen=True)
class PriceVersion:
    """One recorded change of a plan's price in one currency: from `old` to `new` (None: no
    price, the plan was not offered in that currency)."""

    changed_at: datetime
    currency: str
    old: Decimal | None
    new: Decimal | None
    changed_by: Any  # the User, or None for the system


def plan_price_history(*, plan_id: int) -> list[PriceVersion]:
    """Every recorded price of the plan, newest first, each beside the one it replaced."""
    records = (
        PlanPrice.history.filter(plan_id=plan_id)
        .select_related("history_user")
        .order_by("history_date", "history_id")
    )
    last: dict[str, Decimal | None] = {}
    versions = []
    for record in records:
        currency = record.price_currency
        new = None if record.history_type == "-" else record.price.amount
        old = last.get(currency)
        last[currency] = new
        if old == new and record.history_type == "~":
            continue  # saved without a change of price
        versions.append(
            PriceVersion(
                changed_at=record.history_date,
                currency=currency,
                old=old,
                new=new,
                changed_by=record.history_user,
            )
        )
    versions.reverse()
    return versions
