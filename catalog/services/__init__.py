"""Writes on the catalog: stock allocation, profile status, prices, low-stock alerts."""

from collections.abc import Iterable, Sequence
from decimal import Decimal
from functools import partial
from typing import Any, cast

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import Count, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from djmoney.money import Money

from accounts.models import User
from accounts.roles import RESELLER_STAFF
from catalog.exceptions import CardUnavailable, InvalidStatusTransition, OutOfStock
from catalog.models import CardBinding, EsimProfile, Plan, PlanPrice, PlanPriceChange
from catalog.selectors import card_get

Status = EsimProfile.Status

# Every move a profile may make. Nothing leads back to stock once sold (see also the trigger).
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    Status.AVAILABLE: frozenset({Status.RESERVED, Status.VOID}),
    Status.RESERVED: frozenset({Status.AVAILABLE, Status.ASSIGNED, Status.VOID}),
    Status.ASSIGNED: frozenset({Status.INSTALLED, Status.EXPIRED, Status.VOID}),
    Status.INSTALLED: frozenset({Status.EXPIRED, Status.VOID}),
    Status.EXPIRED: frozenset(),
    Status.VOID: frozenset(),
}


def _require_transaction() -> None:
    if not connection.in_atomic_block:
        raise RuntimeError("Stock changes must run inside the caller's transaction.")


def profiles_reserve(*, plan: Plan, quantity: int) -> list[EsimProfile]:
    """Reserve `quantity` available profiles of `plan` inside the caller's transaction.

    SKIP LOCKED lets concurrent checkouts take different rows instead of queueing on the same
    ones; the rows stay locked until the caller commits or rolls back.
    """
    _require_transaction()
    if quantity < 1:
        raise ValueError("quantity must be at least 1")
    ids = list(
        EsimProfile.objects.filter(plan=plan, status=Status.AVAILABLE)
        .order_by("pk")
        .select_for_update(skip_locked=True)
        .values_list("pk", flat=True)[:quantity]
    )
    if len(ids) < quantity:
        raise OutOfStock(plan_id=plan.pk, requested=quantity, available=len(ids))
    EsimProfile.objects.filter(pk__in=ids).update(
        status=Status.RESERVED, status_changed_at=timezone.now()
    )
    return list(EsimProfile.objects.filter(pk__in=ids).order_by("pk"))


def _profiles_transition(
    *, profile_ids: Iterable[int], target: str, **changes: object
) -> list[EsimProfile]:
    """Lock the profiles in primary-key order, check every move is allowed, then apply it."""
    _require_transaction()
    profiles = list(
        EsimProfile.objects.filter(pk__in=list(profile_ids)).order_by("pk").select_for_update()
    )
    for profile in profiles:
        if target not in ALLOWED_TRANSITIONS[profile.status]:
            raise InvalidStatusTransition(current=profile.status, target=target)
    EsimProfile.objects.filter(pk__in=[p.pk for p in profiles]).update(
        status=target, status_changed_at=timezone.now(), **changes
    )
    for profile in profiles:
        profile.status = target
        for field, value in changes.items():
            setattr(profile, field, value)
    return profiles


def profiles_release(*, profiles: Sequence[EsimProfile]) -> list[EsimProfile]:
    """Give reserved profiles back to stock (a checkout that did not complete)."""
    return _profiles_transition(profile_ids=[p.pk for p in profiles], target=Status.AVAILABLE)


def profiles_assign(*, profiles: Sequence[EsimProfile], owner: User) -> list[EsimProfile]:
    """Hand reserved profiles to their buyer: from now on they are the customer's eSIMs."""
    return _profiles_transition(
        profile_ids=[p.pk for p in profiles], target=Status.ASSIGNED, owner=owner
    )


@transaction.atomic
def profiles_set_status(*, profile_ids: Iterable[int], status: str) -> list[EsimProfile]:
    """Install, expire or void profiles; refused when any move is not allowed."""
    return _profiles_transition(profile_ids=profile_ids, target=status)


@transaction.atomic
def plan_price_set(
    *, plan: Plan, currency: str, amount: Decimal | None, actor: User | None
) -> PlanPrice | None:
    """Set (or with None remove) a plan's price in a currency; every change is audited."""
    if currency not in settings.SIMDESK_CURRENCIES:
        raise ValueError(f"Unsupported currency: {currency!r}")
    current = (
        PlanPrice.objects.select_for_update().filter(plan=plan, price_currency=currency).first()
    )
    old_amount = cast(Money, current.price).amount if current else None
    if old_amount == amount:
        return current
    if amount is None:
        assert current is not None
        current.delete()
        result = None
    elif current is None:
        result = PlanPrice.objects.create(plan=plan, price=cast(Any, Money(amount, currency)))
    else:
        current.price = cast(Any, Money(amount, currency))
        current.save(update_fields=["price"])
        result = current
    PlanPriceChange.objects.create(
        plan=plan, currency=currency, old_amount=old_amount, new_amount=amount, changed_by=actor
    )
    return result


def _reseller_staff() -> list[User]:
    return list(User.objects.filter(groups__name=RESELLER_STAFF, is_active=True, is_staff=True))


def _low_stock_email_send(plan_ids: list[int]) -> None:
    plans = list(
        Plan.objects.filter(pk__in=plan_ids).annotate(
            available=Count("profiles", filter=Q(profiles__status=Status.AVAILABLE))
        )
    )
    for user in _reseller_staff():
        with translation.override(user.preferred_language):
            body = render_to_string("catalog/email/low_stock.txt", {"plans": plans, "user": user})
            subject = render_to_string("catalog/email/low_stock_subject.txt", {"plans": plans})
        send_mail(subject.strip(), body, None, [user.email])


def plans_low_stock_check() -> list[int]:
    """Email reseller staff once per dip below a plan's threshold; re-arm once restocked.

    Guarded updates make it safe to run twice at once: only the run that flips a plan's
    `low_stock_alerted_at` from empty sends its email.
    """
    stock = Plan.objects.filter(low_stock_threshold__gt=0).annotate(
        available=Count("profiles", filter=Q(profiles__status=Status.AVAILABLE))
    )
    low = [p.pk for p in stock if p.available < p.low_stock_threshold and p.is_active]
    restocked = [p.pk for p in stock if p.available >= p.low_stock_threshold]
    now = timezone.now()
    with transaction.atomic():
        Plan.objects.filter(pk__in=restocked, low_stock_alerted_at__isnull=False).update(
            low_stock_alerted_at=None
        )
        newly_low = list(
            Plan.objects.filter(pk__in=low, low_stock_alerted_at__isnull=True)
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)
        )
        Plan.objects.filter(pk__in=newly_low).update(low_stock_alerted_at=now)
        if newly_low:
            transaction.on_commit(partial(_low_stock_email_send, newly_low))
    return newly_low


MSG_BINDING_EXISTS = _("This card is already on your account.")


@transaction.atomic
def card_bind(*, customer: User, iccid: str, label: str) -> CardBinding:
    """Keep a card we sold on the customer's account under their label."""
    profile = card_get(iccid=iccid)
    binding, created = CardBinding.objects.get_or_create(
        customer=customer, profile=profile, defaults={"label": label.strip()[:60]}
    )
    if not created:
        raise CardUnavailable(MSG_BINDING_EXISTS)
    return binding


def card_unbind(*, customer: User, binding_id: int) -> None:
    CardBinding.objects.filter(customer=customer, pk=binding_id).delete()
