from celery import shared_task

from . import services


@shared_task(name="catalog.plans_low_stock_check_task", ignore_result=True)
def plans_low_stock_check_task() -> list[int]:
    return services.plans_low_stock_check()
