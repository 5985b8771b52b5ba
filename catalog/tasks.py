from celery import shared_task

from . import services
from .services.bundles import bundles_advance


@shared_task(name="catalog.plans_low_stock_check_task", ignore_result=True)
def plans_low_stock_check_task() -> list[int]:
    return services.plans_low_stock_check()


@shared_task(name="catalog.bundles_advance_task", ignore_result=True)
def bundles_advance_task() -> dict[str, int]:
    """Start, deplete and expire bundles; expire number-keeping cards left with nothing."""
    return bundles_advance()
