"""Stock allocation and profile status moves, on PostgreSQL with real transactions."""

import threading

import pytest
from django.db import IntegrityError, connection, transaction

from catalog import services
from catalog.exceptions import InvalidStatusTransition, OutOfStock
from catalog.models import EsimProfile
from tests.catalog.factories import PlanFactory, make_profiles
from tests.factories import UserFactory

Status = EsimProfile.Status


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_buyers_share_fifty_profiles_exactly():
    plan = PlanFactory(code="jp-5gb-30d")
    make_profiles(plan, 50)
    taken: list[int] = []
    refusals: list[OutOfStock] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(20)

    def buyer() -> None:
        try:
            start.wait()
            while True:
                try:
                    with transaction.atomic():
                        (profile,) = services.profiles_reserve(plan=plan, quantity=1)
                except OutOfStock as refusal:
                    with lock:
                        refusals.append(refusal)
                    return
                with lock:
                    taken.append(profile.pk)
        except BaseException as error:  # surfaced below: a thread must not fail silently
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=buyer) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(taken) == 50
    assert len(set(taken)) == 50
    assert len(refusals) == 20
    assert EsimProfile.objects.filter(status=Status.RESERVED).count() == 50
    assert EsimProfile.objects.filter(status=Status.AVAILABLE).count() == 0


@pytest.mark.django_db
def test_reserve_refuses_when_fewer_remain_and_takes_nothing():
    plan = PlanFactory(code="jp-5gb-30d")
    make_profiles(plan, 3)

    with pytest.raises(OutOfStock) as refusal, transaction.atomic():
        services.profiles_reserve(plan=plan, quantity=4)

    assert (refusal.value.requested, refusal.value.available) == (4, 3)
    assert EsimProfile.objects.filter(status=Status.AVAILABLE).count() == 3


@pytest.mark.django_db(transaction=True)
def test_reserve_needs_the_callers_transaction():
    """Outside a transaction the row locks would be released at once."""
    plan = PlanFactory(code="jp-5gb-30d")
    make_profiles(plan, 1)

    with pytest.raises(RuntimeError):
        services.profiles_reserve(plan=plan, quantity=1)
    assert EsimProfile.objects.get().status == Status.AVAILABLE


@pytest.mark.django_db
def test_reserve_release_assign():
    plan = PlanFactory(code="jp-5gb-30d")
    make_profiles(plan, 2)
    buyer = UserFactory()

    with transaction.atomic():
        first, second = services.profiles_reserve(plan=plan, quantity=2)
        services.profiles_release(profiles=[second])
        services.profiles_assign(profiles=[first], owner=buyer)

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.owner) == (Status.ASSIGNED, buyer)
    assert (second.status, second.owner) == (Status.AVAILABLE, None)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("start", "target"),
    [
        (Status.AVAILABLE, Status.ASSIGNED),  # must be reserved first
        (Status.ASSIGNED, Status.AVAILABLE),  # sold: never back to stock
        (Status.ASSIGNED, Status.RESERVED),
        (Status.INSTALLED, Status.AVAILABLE),
        (Status.EXPIRED, Status.AVAILABLE),
        (Status.VOID, Status.AVAILABLE),
    ],
)
def test_guarded_status_moves_are_refused(start, target):
    plan = PlanFactory(code="jp-5gb-30d")
    (profile,) = make_profiles(plan, 1)
    owner = UserFactory() if start in (Status.ASSIGNED, Status.INSTALLED, Status.EXPIRED) else None
    EsimProfile.objects.filter(pk=profile.pk).update(status=start, owner=owner)

    with pytest.raises(InvalidStatusTransition):
        services.profiles_set_status(profile_ids=[profile.pk], status=target)

    profile.refresh_from_db()
    assert profile.status == start


@pytest.mark.django_db
def test_database_refuses_to_put_a_sold_profile_back_in_stock():
    """Invariant 7 holds even for code that skips the services."""
    plan = PlanFactory(code="jp-5gb-30d")
    (profile,) = make_profiles(plan, 1)
    EsimProfile.objects.filter(pk=profile.pk).update(status=Status.ASSIGNED, owner=UserFactory())

    with pytest.raises(IntegrityError, match="was sold"), transaction.atomic():
        EsimProfile.objects.filter(pk=profile.pk).update(status=Status.AVAILABLE, owner=None)
    with pytest.raises(IntegrityError, match="already belongs"), transaction.atomic():
        EsimProfile.objects.filter(pk=profile.pk).update(owner=UserFactory())


@pytest.mark.django_db
def test_a_sold_profile_must_have_an_owner():
    plan = PlanFactory(code="jp-5gb-30d")
    (profile,) = make_profiles(plan, 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        EsimProfile.objects.filter(pk=profile.pk).update(status=Status.ASSIGNED)
