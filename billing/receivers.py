"""Thin receivers of the signals sent by the apps billing builds on; connected in apps.py."""

from typing import Any

from django.db import transaction

from billing.services.inventory import inventory_receive
from catalog.models import ImportBatch


def profiles_imported_receiver(*, batch: ImportBatch, **_kwargs: Any) -> None:
    inventory_receive(batch=batch)


def stock_arrived_receiver(**_kwargs: Any) -> None:
    """Orders waiting for stock are tried again once the import commits."""
    from billing.tasks import orders_awaiting_stock_task

    transaction.on_commit(orders_awaiting_stock_task.delay)


def usage_recorded_receiver(*, bundle_ids: list[int], **_kwargs: Any) -> None:
    """The 80% and 100% notices go out once the usage batch commits."""
    from billing.tasks import usage_notices_send_task

    if bundle_ids:
        transaction.on_commit(lambda: usage_notices_send_task.delay(bundle_ids))
