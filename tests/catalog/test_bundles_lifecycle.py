"""Bundles over time: bundles_advance expires, depletes and starts bundles, expires
number-keeping cards left with nothing, is safe to run twice and from two beats at once."""

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
from django.db import connection

from catalog.models import MB, Bundle, EsimProfile, Plan
from catalog.services.bundles import bundles_advance, profile_first_use
from catalog.tasks import bundles_advance_task
from tests.billing.order_support import bought_esim, funded_customer, plan_for_sale
from tests.catalog.factories import PlanFactory, make_profiles

NOW = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)
NOTHING = {"depleted": 0, "expired": 0, "started": 0, "cards_expired": 0}
T = TypeVar("T")


@pytest.fixture(autouse=True)
def clock(time_machine):
    time_machine.move_to(NOW, tick=False)


def sold_card(**plan_fields: object) -> tuple[EsimProfile, Bundle]:
    """A card sold to a customer, with its first (queued, not started) bundle."""
    fields = {"data_mb": 1024, "validity_days": 30, **plan_fields}
    _order, profile = bought_esim(funded_customer(), plan_for_sale(**fields))
    return profile, profile.bundles.get()


def run(bundle: Bundle, *, started: datetime, used_mb: int = 0) -> Bundle:
    """Make `bundle` the running one since `started`."""
    Bundle.objects.filter(pk=bundle.pk).update(
        status=Bundle.Status.ACTIVE,
        starts_at=started,
        ends_at=started + timedelta(days=bundle.plan.validity_days),
        data_used_bytes=used_mb * MB,
    )
    bundle.refresh_from_db()
    return bundle


def queue(profile: EsimProfile, *, starts_at: datetime | None, plan: Plan | None = None) -> Bundle:
    plan = plan or profile.plan
    return Bundle.objects.create(
        profile=profile,
        plan=plan,
        data_allowance_mb=plan.data_mb,
        status=Bundle.Status.QUEUED,
        starts_at=starts_at,
    )


def fresh(*objects):
    for obj in objects:
        obj.refresh_from_db()
    return objects


def snapshot() -> list[tuple]:
    bundles = Bundle.objects.order_by("pk").values_list(
        "pk", "status", "starts_at", "ends_at", "data_used_bytes"
    )
    cards = EsimProfile.objects.order_by("pk").values_list("pk", "status")
    return [*bundles, *cards]


@pytest.mark.django_db
class TestAdvance:
    def test_a_bundle_queued_with_no_start_follows_the_end_of_the_one_before(self, time_machine):
        profile, first = sold_card()
        time_machine.move_to(NOW - timedelta(days=29), tick=False)
        follower = queue(profile, starts_at=None)  # queued while the first still ran
        time_machine.move_to(NOW, tick=False)
        run(first, started=NOW - timedelta(days=31))  # ended a day ago, unseen by any sweep
        bundles_advance()
        (follower,) = fresh(follower)
        assert follower.status == Bundle.Status.ACTIVE
        assert follower.starts_at == NOW - timedelta(days=1)

    def test_a_bundle_bought_after_the_card_lapsed_starts_now(self):
        profile, first = sold_card()
        run(first, started=NOW - timedelta(days=40))
        bundles_advance()
        renewal = queue(profile, starts_at=None)
        bundles_advance()
        (renewal,) = fresh(renewal)
        assert renewal.status == Bundle.Status.ACTIVE
        assert renewal.starts_at == NOW

    def test_a_bundle_past_its_end_expires(self):
        profile, bundle = sold_card()
        run(bundle, started=NOW - timedelta(days=30))  # ends exactly now
        _, running = sold_card()
        run(running, started=NOW - timedelta(days=29))

        assert bundles_advance() == {**NOTHING, "expired": 1}
        bundle, running = fresh(bundle, running)
        assert bundle.status == Bundle.Status.EXPIRED
        assert running.status == Bundle.Status.ACTIVE
        profile.refresh_from_db()
        assert profile.status == EsimProfile.Status.ASSIGNED  # an ordinary card stays

    def test_a_queued_bundle_starts_at_the_time_it_was_queued_for(self):
        profile, first = sold_card()
        run(first, started=NOW - timedelta(days=31))  # ended a day ago
        second = queue(profile, starts_at=first.ends_at)
        third = queue(profile, starts_at=None)  # after the second

        assert bundles_advance() == {**NOTHING, "expired": 1, "started": 1}
        first, second, third = fresh(first, second, third)
        assert first.status == Bundle.Status.EXPIRED
        assert second.status == Bundle.Status.ACTIVE
        assert second.starts_at == first.ends_at == NOW - timedelta(days=1)
        assert second.ends_at == second.starts_at + timedelta(days=30)
        assert (third.status, third.starts_at) == (Bundle.Status.QUEUED, None)

    def test_a_queued_bundle_waits_while_the_one_before_runs(self):
        profile, first = sold_card()
        run(first, started=NOW - timedelta(days=10))
        second = queue(profile, starts_at=first.ends_at)

        assert bundles_advance() == NOTHING
        (second,) = fresh(second)
        assert (second.status, second.starts_at) == (Bundle.Status.QUEUED, first.ends_at)

    def test_after_a_depleted_bundle_the_next_starts_now(self):
        profile, first = sold_card(data_mb=1024)
        run(first, started=NOW - timedelta(days=3), used_mb=1024)
        second = queue(profile, starts_at=first.ends_at)  # 27 days from now

        assert bundles_advance() == {**NOTHING, "depleted": 1, "started": 1}
        first, second = fresh(first, second)
        assert first.status == Bundle.Status.DEPLETED
        assert second.status == Bundle.Status.ACTIVE
        assert (second.starts_at, second.ends_at) == (NOW, NOW + timedelta(days=30))

    def test_an_unlimited_bundle_is_never_depleted(self):
        _profile, bundle = sold_card(kind=Plan.Kind.UNLIMITED, data_mb=None)
        run(bundle, started=NOW - timedelta(days=1))
        Bundle.objects.filter(pk=bundle.pk).update(data_used_bytes=500 * 1024 * MB)
        assert bundles_advance() == NOTHING

    def test_the_first_bundle_waits_for_first_use(self):
        profile, bundle = sold_card(activation_policy=Plan.ActivationPolicy.ON_FIRST_USE)

        assert bundles_advance() == NOTHING
        (bundle,) = fresh(bundle)
        assert (bundle.status, bundle.starts_at) == (Bundle.Status.QUEUED, None)

        first_use = NOW - timedelta(hours=2)
        assert profile_first_use(profile=profile, at=first_use) == bundle
        bundle, profile = fresh(bundle, profile)
        assert bundle.status == Bundle.Status.ACTIVE
        assert (bundle.starts_at, bundle.ends_at) == (first_use, first_use + timedelta(days=30))
        assert profile.status == EsimProfile.Status.INSTALLED
        # A second report of first use changes nothing.
        assert profile_first_use(profile=profile, at=NOW) is None
        (bundle,) = fresh(bundle)
        assert bundle.starts_at == first_use

    def test_a_number_keeping_card_with_nothing_left_expires(self):
        keeper, kept = sold_card(kind=Plan.Kind.NUMBER_KEEPING, data_mb=100)
        run(kept, started=NOW - timedelta(days=31))
        ordinary, bundle = sold_card()
        run(bundle, started=NOW - timedelta(days=31))

        assert bundles_advance() == {**NOTHING, "expired": 2, "cards_expired": 1}
        keeper, ordinary = fresh(keeper, ordinary)
        assert keeper.status == EsimProfile.Status.EXPIRED
        assert ordinary.status == EsimProfile.Status.ASSIGNED

    def test_a_number_keeping_card_with_a_renewal_queued_keeps_its_number(self):
        keeper, kept = sold_card(kind=Plan.Kind.NUMBER_KEEPING, data_mb=100)
        run(kept, started=NOW - timedelta(days=31))
        renewal = queue(keeper, starts_at=kept.ends_at)

        assert bundles_advance() == {**NOTHING, "expired": 1, "started": 1}
        keeper, renewal = fresh(keeper, renewal)
        assert keeper.status == EsimProfile.Status.ASSIGNED
        assert renewal.status == Bundle.Status.ACTIVE

    def test_a_number_keeping_card_used_up_keeps_its_number_until_the_period_ends(self):
        keeper, kept = sold_card(kind=Plan.Kind.NUMBER_KEEPING, data_mb=100)
        run(kept, started=NOW - timedelta(days=10), used_mb=100)

        assert bundles_advance() == {**NOTHING, "depleted": 1}
        (keeper,) = fresh(keeper)
        assert keeper.status == EsimProfile.Status.ASSIGNED

    def test_a_number_keeping_card_not_yet_used_is_kept(self):
        keeper, _bundle = sold_card(
            kind=Plan.Kind.NUMBER_KEEPING,
            activation_policy=Plan.ActivationPolicy.ON_FIRST_USE,
        )
        assert bundles_advance() == NOTHING
        (keeper,) = fresh(keeper)
        assert keeper.status == EsimProfile.Status.ASSIGNED

    def test_running_it_twice_changes_nothing_more(self):
        _keeper, kept = sold_card(kind=Plan.Kind.NUMBER_KEEPING, data_mb=100)
        run(kept, started=NOW - timedelta(days=31))
        profile, first = sold_card()
        run(first, started=NOW - timedelta(days=31))
        queue(profile, starts_at=first.ends_at)
        queue(profile, starts_at=None)
        other, used_up = sold_card(data_mb=10)
        run(used_up, started=NOW - timedelta(days=1), used_mb=10)
        queue(other, starts_at=None)

        first_pass = bundles_advance()
        after_first = snapshot()
        assert first_pass == {"depleted": 1, "expired": 2, "started": 2, "cards_expired": 1}
        assert bundles_advance() == NOTHING
        assert snapshot() == after_first

    def test_profile_ids_limit_the_pass_to_those_cards(self):
        profile, bundle = sold_card()
        run(bundle, started=NOW - timedelta(days=31))
        _other, elsewhere = sold_card()
        run(elsewhere, started=NOW - timedelta(days=31))

        assert bundles_advance(profile_ids=[profile.pk]) == {**NOTHING, "expired": 1}
        bundle, elsewhere = fresh(bundle, elsewhere)
        assert (bundle.status, elsewhere.status) == ("expired", "active")

    def test_the_beat_task_runs_a_pass(self):
        _profile, bundle = sold_card()
        run(bundle, started=NOW - timedelta(days=31))
        assert bundles_advance_task.delay().get() == {**NOTHING, "expired": 1}


# --- Two beats at once -----------------------------------------------------------------------
def race(count: int, work: Callable[[int], T]) -> list[T | BaseException]:
    """Run work(0..count-1) in `count` threads released together, each on its own
    connection (closed after)."""
    start = threading.Barrier(count)

    def go(n: int) -> T | BaseException:
        try:
            start.wait(timeout=30)
            return work(n)
        except BaseException as error:
            return error
        finally:
            connection.close()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(go, range(count)))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("threads", [2, 4])
def test_concurrent_passes_start_each_queued_bundle_once(threads):
    plan = PlanFactory(data_mb=100, validity_days=30)
    cards = make_profiles(plan, 30, start=700_000)
    ended = NOW - timedelta(days=1)
    seconds, thirds = [], []
    for n, card in enumerate(cards):
        depleted = n % 2 == 0
        Bundle.objects.create(
            profile=card,
            plan=plan,
            data_allowance_mb=100,
            data_used_bytes=100 * MB if depleted else 0,
            status=Bundle.Status.ACTIVE,
            starts_at=NOW - timedelta(days=5) if depleted else ended - timedelta(days=30),
            ends_at=NOW + timedelta(days=25) if depleted else ended,
        )
        seconds.append(queue(card, starts_at=None if depleted else ended, plan=plan))
        thirds.append(queue(card, starts_at=None, plan=plan))

    results = race(threads, lambda _n: bundles_advance())

    assert not [r for r in results if isinstance(r, BaseException)], results
    totals = {k: sum(r[k] for r in results) for k in NOTHING}  # type: ignore[index]
    assert totals == {"depleted": 15, "expired": 15, "started": 30, "cards_expired": 0}
    statuses = dict(Bundle.objects.values_list("pk", "status"))
    assert {statuses[b.pk] for b in seconds} == {Bundle.Status.ACTIVE}
    assert {statuses[b.pk] for b in thirds} == {Bundle.Status.QUEUED}
    for n, second in enumerate(seconds):
        second.refresh_from_db()
        assert second.starts_at == (NOW if n % 2 == 0 else ended)
    for card in cards:
        assert card.bundles.filter(status=Bundle.Status.ACTIVE).count() == 1
    assert bundles_advance() == NOTHING
