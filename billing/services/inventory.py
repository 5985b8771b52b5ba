"""The eSIM stock on the books: what imported profiles cost, owed to the supplier."""

from typing import TYPE_CHECKING

from django.db.models import Sum
from djmoney.money import Money

from billing.models import JournalEntry, LedgerAccount
from billing.services.ledger import Line, ledger_post, system_account_get
from catalog.models import EsimProfile, ImportBatch

if TYPE_CHECKING:
    from accounts.models import User

Purpose = LedgerAccount.Purpose


def inventory_receive(*, batch: ImportBatch) -> list[JournalEntry]:
    """Post an import batch's cost: eSIM inventory against supplier payable, one entry per
    currency. Safe to run twice: each (batch, currency) posts once."""
    totals = (
        EsimProfile.objects.filter(batch=batch, wholesale_cost__gt=0)
        .values_list("wholesale_cost_currency")
        .annotate(total=Sum("wholesale_cost"))
        .order_by("wholesale_cost_currency")
    )
    return [
        inventory_post(
            cost=Money(total, currency),
            idempotency_key=f"inventory:batch:{batch.pk}:{currency}",
            memo=f"{batch.rows} eSIM profiles from {batch.file_name}",
            created_by=batch.imported_by,
            import_batch=batch,
        )
        for currency, total in totals
    ]


def inventory_post(
    *,
    cost: Money,
    idempotency_key: str,
    memo: str,
    created_by: "User | None" = None,
    import_batch: ImportBatch | None = None,
) -> JournalEntry:
    """Stock received at `cost`: debit eSIM inventory, credit supplier payable."""
    currency = str(cost.currency)
    return ledger_post(
        lines=[
            Line(system_account_get(purpose=Purpose.ESIM_INVENTORY, currency=currency), cost),
            Line(system_account_get(purpose=Purpose.SUPPLIER_PAYABLE, currency=currency), -cost),
        ],
        idempotency_key=idempotency_key,
        kind=JournalEntry.Kind.INVENTORY_RECEIPT,
        memo=memo,
        created_by=created_by,
        import_batch=import_batch,
    )
