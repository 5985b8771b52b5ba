"""Thin receivers of the signals sent by the apps billing builds on; connected in apps.py."""

from typing import Any

from billing.services.inventory import inventory_receive
from catalog.models import ImportBatch


def profiles_imported_receiver(*, batch: ImportBatch, **_kwargs: Any) -> None:
    inventory_receive(batch=batch)
