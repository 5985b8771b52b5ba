"""Bundles over time: a card's queued bundle starts when the one before ends (or runs out of
data), a running bundle ends at its end time, and a number-keeping card whose last period
ended without a renewal expires with its number.

A card runs one bundle at a time. The first bundle of a new eSIM starts when the eSIM is
installed or first connects, as its plan says; every later one when the one before ends.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import cast

from django.db import transaction
from django.db.models import BigIntegerField, Exists, OuterRef, Q
from django.db.models.functions import Cast
from django.utils import timezone

from catalog.models import MB, Bundle, EsimProfile, Plan

BStatus = Bundle.Status
PStatus = EsimProfile.Status


def bundle_start(bundle: Bundle, at: datetime) -> bool:
    """Make a queued bundle the running one from `at` (inside the caller's transaction).
    False when it was no longer queued."""
    bundle.status = BStatus.ACTIVE
    bundle.starts_at = at
    bundle.ends_at = at + timedelta(days=bundle.plan.validity_days)
    return bool(
        Bundle.objects.filter(pk=bundle.pk, status=BStatus.QUEUED).update(
            status=bundle.status, starts_at=bundle.starts_at, ends_at=bundle.ends_at
        )
    )


def bundles_advance(
    *, now: datetime | None = None, profile_ids: Iterable[int] | None = None
) -> dict[str, int]:
    """One pass of the lifecycle, safe to run twice and from two beats at once:

    1. an active bundle with all its data used becomes depleted;
    2. an active bundle past its end expires;
    3. each card with nothing active starts its next queued bundle: at the start time it was
       queued for, or now when the one before ran out of data or had no known end;
    4. a number-keeping card with nothing left to run expires, and its number with it.
    """
    now = now or timezone.now()
    ids = None if profile_ids is None else list(profile_ids)
    scope = Q() if ids is None else Q(profile_id__in=ids)
    with transaction.atomic():
        depleted = (
            Bundle.objects.filter(scope, status=BStatus.ACTIVE, data_allowance_mb__isnull=False)
            .filter(data_used_bytes__gte=Cast("data_allowance_mb", BigIntegerField()) * MB)
            .update(status=BStatus.DEPLETED)
        )
        expired = Bundle.objects.filter(scope, status=BStatus.ACTIVE, ends_at__lte=now).update(
            status=BStatus.EXPIRED
        )
    started = _queued_start(now, scope)
    ended = _number_keeping_expire(now, Q() if ids is None else Q(pk__in=ids))
    return {"depleted": depleted, "expired": expired, "started": started, "cards_expired": ended}


def _queued_start(now: datetime, scope: Q) -> int:
    active = Bundle.objects.filter(profile=OuterRef("profile"), status=BStatus.ACTIVE)
    earlier_queued = Bundle.objects.filter(
        profile=OuterRef("profile"), status=BStatus.QUEUED, pk__lt=OuterRef("pk")
    )
    # A bundle before it that is over: this one follows it. None: the eSIM's first bundle,
    # which waits for install or first use.
    after_one_over = Bundle.objects.filter(
        profile=OuterRef("profile"),
        pk__lt=OuterRef("pk"),
        status__in=(BStatus.EXPIRED, BStatus.DEPLETED),
    )
    started = 0
    with transaction.atomic():
        candidates = (
            Bundle.objects.filter(scope, status=BStatus.QUEUED)
            .filter(~Exists(active), ~Exists(earlier_queued))
            .filter(Q(starts_at__lte=now) | Exists(after_one_over))
            .select_related("plan")
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("pk")
        )
        for bundle in candidates:
            started += bundle_start(bundle, _start_time(bundle, now))
    return started


def _start_time(bundle: Bundle, now: datetime) -> datetime:
    """When a queued bundle starts: the time it was queued for; else the end of the bundle
    before it, if it was queued while that one still ran (so usage in between has a bundle);
    else now (queued behind one that ran out of data early, or bought after the card lapsed)."""
    if bundle.starts_at is not None and bundle.starts_at <= now:
        return bundle.starts_at
    before = (
        Bundle.objects.filter(profile_id=bundle.profile_id, pk__lt=bundle.pk)
        .order_by("-pk")
        .only("status", "ends_at")
        .first()
    )
    ended = before.ends_at if before is not None else None
    queued_while_it_ran = ended is not None and bundle.created_at <= ended <= now
    if before is not None and before.status == BStatus.EXPIRED and queued_while_it_ran:
        return cast(datetime, ended)
    return now


def _number_keeping_expire(now: datetime, scope: Q) -> int:
    """A number is kept only while a period runs: with no bundle running or queued, the card
    (and its number) is gone."""
    live = Bundle.objects.filter(profile=OuterRef("pk")).filter(
        Q(status__in=(BStatus.QUEUED, BStatus.ACTIVE)) | Q(status=BStatus.DEPLETED, ends_at__gt=now)
    )
    ids = list(
        EsimProfile.objects.filter(
            scope,
            plan__kind=Plan.Kind.NUMBER_KEEPING,
            status__in=(PStatus.ASSIGNED, PStatus.INSTALLED),
            bundles__status__in=(BStatus.EXPIRED, BStatus.DEPLETED),
        )
        .filter(~Exists(live))
        .values_list("pk", flat=True)
        .distinct()
    )
    return EsimProfile.objects.filter(
        pk__in=ids, status__in=(PStatus.ASSIGNED, PStatus.INSTALLED)
    ).update(status=PStatus.EXPIRED, status_changed_at=now)


def profile_first_use(*, profile: EsimProfile, at: datetime) -> Bundle | None:
    """The eSIM connected (or was installed) at `at`: it counts as installed, and its first
    bundle starts then if it has not started. Inside the caller's transaction."""
    if profile.status == PStatus.ASSIGNED:
        EsimProfile.objects.filter(pk=profile.pk, status=PStatus.ASSIGNED).update(
            status=PStatus.INSTALLED, status_changed_at=timezone.now()
        )
        profile.status = PStatus.INSTALLED
    first = (
        Bundle.objects.select_for_update()
        .select_related("plan")
        .filter(profile=profile)
        .order_by("pk")
        .first()
    )
    if first is None or first.status != BStatus.QUEUED or first.starts_at is not None:
        return None
    bundle_start(first, at)
    return first
