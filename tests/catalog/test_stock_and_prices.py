from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from djmoney.money import Money

from accounts.roles import RESELLER_STAFF
from catalog import selectors, services
from catalog.models import EsimProfile, Plan, PlanPriceChange
from catalog.tasks import plans_low_stock_check_task
from tests.catalog.factories import PlanFactory, make_profiles
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def reseller():
    user = UserFactory(email="stock@example.com", is_staff=True)
    user.groups.add(Group.objects.get(name=RESELLER_STAFF))
    return user


def test_low_stock_email_once_per_dip_and_again_after_restock(
    reseller, django_capture_on_commit_callbacks
):
    plan = PlanFactory(code="jp-5gb-30d")
    Plan.objects.filter(pk=plan.pk).update(low_stock_threshold=5)
    profiles = make_profiles(plan, 4)

    with django_capture_on_commit_callbacks(execute=True):
        plans_low_stock_check_task.delay()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["stock@example.com"]
    assert "jp-5gb-30d" in mail.outbox[0].body
    assert "4 available, threshold 5" in mail.outbox[0].body

    # The hourly sweep runs again: no second email for the same dip.
    with django_capture_on_commit_callbacks(execute=True):
        plans_low_stock_check_task.delay()
    assert len(mail.outbox) == 1

    # Restocked, then sold down again: a new email.
    more = make_profiles(plan, 3, start=100)
    with django_capture_on_commit_callbacks(execute=True):
        plans_low_stock_check_task.delay()
    assert len(mail.outbox) == 1
    EsimProfile.objects.filter(pk__in=[p.pk for p in [*profiles, *more][:3]]).update(
        status=EsimProfile.Status.VOID
    )
    with django_capture_on_commit_callbacks(execute=True):
        plans_low_stock_check_task.delay()
    assert len(mail.outbox) == 2


def test_low_stock_email_is_in_the_staff_members_language(
    reseller, django_capture_on_commit_callbacks
):
    reseller.preferred_language = "zh-hans"
    reseller.save()
    plan = PlanFactory(code="jp-5gb-30d")
    Plan.objects.filter(pk=plan.pk).update(low_stock_threshold=1)

    with django_capture_on_commit_callbacks(execute=True):
        services.plans_low_stock_check()

    assert "库存" in mail.outbox[0].subject


def test_stock_counts_per_plan_in_one_query(django_assert_num_queries):
    plan = PlanFactory(code="jp-5gb-30d")
    other = PlanFactory(code="jp-1gb-7d")
    profiles = make_profiles(plan, 5)
    make_profiles(other, 2, start=50)
    EsimProfile.objects.filter(pk=profiles[0].pk).update(status=EsimProfile.Status.RESERVED)
    EsimProfile.objects.filter(pk=profiles[1].pk).update(
        status=EsimProfile.Status.ASSIGNED, owner=UserFactory()
    )

    with django_assert_num_queries(1):
        stock = {
            p.code: (p.stock_available, p.stock_reserved, p.stock_sold)
            for p in selectors.plans_with_stock()
        }

    assert stock == {"jp-5gb-30d": (3, 1, 1), "jp-1gb-7d": (2, 0, 0)}


def test_price_changes_are_audited_and_missing_currency_is_not_offered():
    plan = PlanFactory(code="jp-5gb-30d")
    clerk = UserFactory()

    services.plan_price_set(plan=plan, currency="USD", amount=Decimal("9.99"), actor=clerk)
    services.plan_price_set(plan=plan, currency="USD", amount=Decimal("8.99"), actor=clerk)
    services.plan_price_set(plan=plan, currency="USD", amount=Decimal("8.99"), actor=clerk)

    assert plan.prices.get().price == Money("8.99", "USD")
    changes = list(
        PlanPriceChange.objects.order_by("pk").values_list("old_amount", "new_amount", "changed_by")
    )
    assert changes == [
        (None, Decimal("9.99"), clerk.pk),
        (Decimal("9.99"), Decimal("8.99"), clerk.pk),
    ]
    assert list(selectors.plans_offered(currency="USD")) == [plan]
    assert list(selectors.plans_offered(currency="CNY")) == []

    services.plan_price_set(plan=plan, currency="USD", amount=None, actor=clerk)
    assert list(selectors.plans_offered(currency="USD")) == []


def test_price_in_an_unsupported_currency_is_refused():
    with pytest.raises(ValueError, match="Unsupported currency"):
        services.plan_price_set(
            plan=PlanFactory(code="jp-5gb-30d"), currency="GBP", amount=Decimal(1), actor=None
        )
