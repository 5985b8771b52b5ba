"""Catalog factories for tests: plans, and ICCIDs that pass the Luhn check."""

from decimal import Decimal

import factory
from djmoney.money import Money

from catalog.models import EsimProfile, Plan
from catalog.validation import luhn_check_digit


def iccid(number: int) -> str:
    """A 19-digit ICCID with a correct check digit, distinct for every `number`."""
    payload = f"8986{number:014d}"
    return payload + luhn_check_digit(payload)


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plan

    code = factory.Sequence(lambda n: f"jp-{n}-5gb")
    name = factory.Sequence(lambda n: f"Japan 5 GB #{n}")
    kind = Plan.Kind.DATA
    country = "JP"
    data_mb = 5120
    validity_days = 30
    wholesale_cost = factory.LazyFunction(lambda: Money(Decimal("3.20"), "USD"))


def make_profiles(plan: Plan, count: int, start: int = 0) -> list[EsimProfile]:
    """`count` available profiles of `plan`, with ICCIDs iccid(start) onwards."""
    return EsimProfile.objects.bulk_create(
        EsimProfile(
            iccid=iccid(n),
            smdp_address="smdp.test.simdesk.test",
            matching_id=f"MATCH-{n:06d}",
            plan=plan,
            wholesale_cost=plan.wholesale_cost,
        )
        for n in range(start, start + count)
    )
