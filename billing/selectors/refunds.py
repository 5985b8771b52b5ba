"""Refunds as finance read them: the queue of open requests, each with what it is judged on
(the order, its payment, the eSIM and its bundles, the order's other refunds).

`billing.admin.views.refunds.refund_facts` formats those facts for the pages; the joins and
prefetches it reads are made here, once for a whole queue, so the page's queries do not grow
with it.
"""

from collections.abc import Iterable

from django.db.models import Prefetch, QuerySet, prefetch_related_objects

from billing.models import Refund
from catalog.models import Bundle

# What a refund's facts read, in one query per relation for any number of refunds.
FACTS_SELECT_RELATED = ("order", "order__customer", "order__payment", "profile", "requested_by")
FACTS_PREFETCH = (
    Prefetch("profile__bundles", queryset=Bundle.objects.select_related("plan").order_by("pk")),
    Prefetch("order__refunds", queryset=Refund.objects.order_by("created_at", "pk")),
)


def refund_facts_load(refunds: Iterable[Refund]) -> None:
    """Fetch the bundles and sibling refunds of refunds loaded on their own (a refund's page);
    does nothing for what is already fetched (the queue)."""
    prefetch_related_objects(list(refunds), *FACTS_PREFETCH)


def refund_queue() -> QuerySet[Refund]:
    """Open refunds, oldest first: requests waiting for a decision, and approved ones still
    processing at the gateway (`Refund.OPEN`)."""
    return (
        Refund.objects.filter(status__in=Refund.OPEN)
        .select_related(*FACTS_SELECT_RELATED)
        .prefetch_related(*FACTS_PREFETCH)
        .order_by("created_at", "pk")
    )
