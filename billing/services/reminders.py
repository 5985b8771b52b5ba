"""Emails about a card's periods: reminders before a period ends (3 and 1 days; 30, 7 and 1
for number-keeping cards), notices at 80% and 100% of its data used, and the notices of a
failed auto-renewal.

Each reminder is a Reminder row, unique per (eSIM, period, kind), written in the same
transaction as the send: a second sweep or a second beat finds the row (or waits on it and
then finds it) and sends nothing; a refused send rolls the row back for the next sweep.
"""

import math
from datetime import timedelta
from typing import cast

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from billing.models import AutoRenewal, Reminder, Renewal
from billing.selectors.renewals import saved_card
from billing.services.emails import email_send
from billing.services.renewals import CARD_DECLINED, NO_FUNDS, NOT_SOLD
from catalog.models import MB, Bundle, Plan, PlanPrice

Kind = Reminder.Kind
RUNNING = (Bundle.Status.ACTIVE, Bundle.Status.DEPLETED)
# Failure reasons the code writes in English with a msgid: the email says them in the
# customer's language; any other (a gateway's own words) is shown as it is.
KNOWN_REASONS = frozenset({NO_FUNDS, NOT_SOLD, CARD_DECLINED})


def renew_url(iccid: str) -> str:
    """The one-click renew link: the eSIM's renew page, after signing in if need be."""
    return settings.SIMDESK_SITE_URL + reverse("storefront:esim-renew", args=[iccid])


def _claim(bundle: Bundle, kind: str) -> bool:
    try:
        with transaction.atomic():
            Reminder.objects.create(profile_id=bundle.profile_id, bundle=bundle, kind=kind)
    except IntegrityError:
        return False
    return True


def expiry_reminder_send(*, bundle_id: int, kind: str) -> bool:
    """Remind the owner that the card's period ends soon, with the renew link; at most once."""
    with transaction.atomic():
        bundle = (
            Bundle.objects.select_related("plan", "profile", "profile__owner", "profile__plan")
            .filter(pk=bundle_id)
            .first()
        )
        if bundle is None or bundle.profile.owner is None or bundle.ends_at is None:
            return False
        now = timezone.now()
        # The task may run late: a period that ended, or was renewed since the sweep, needs
        # no reminder.
        if (
            bundle.status not in RUNNING
            or bundle.ends_at <= now
            or Bundle.objects.filter(
                profile_id=bundle.profile_id, status=Bundle.Status.QUEUED
            ).exists()
        ):
            return False
        if not _claim(bundle, kind):
            return False
        profile = bundle.profile
        owner = cast(User, profile.owner)
        auto = (
            AutoRenewal.objects.filter(profile=profile, enabled=True).select_related("plan").first()
        )
        lead = settings.SIMDESK_RENEWAL_LEAD_HOURS
        charge_at = bundle.ends_at - timedelta(hours=lead)
        email_send(
            to=owner,
            template="billing/email/expiry_reminder",
            context={
                "bundle": bundle,
                "profile": profile,
                "number_keeping": profile.plan.kind == Plan.Kind.NUMBER_KEEPING,
                "auto_renewal": auto,
                "days_left": max(1, math.ceil((bundle.ends_at - now) / timedelta(days=1))),
                "lead_hours": lead,
                "charge_at": charge_at if charge_at > now else None,
                "renew_url": renew_url(profile.iccid),
            },
        )
    return True


def usage_notices_send(*, bundle_ids: list[int]) -> int:
    """Email the 80% and the 100% notice of each bundle once. A bundle that went from under
    80% to all used in one report gets the 100% notice only (the 80% one is recorded too)."""
    sent = 0
    bundles = Bundle.objects.select_related("plan", "profile", "profile__owner").filter(
        pk__in=bundle_ids, data_allowance_mb__isnull=False
    )
    for bundle in bundles:
        allowance = (bundle.data_allowance_mb or 0) * MB
        used = bundle.data_used_bytes
        # In whole numbers (as usage_notices_due counts): no float rounding at the edge.
        if not allowance or used * 10 < allowance * 8 or bundle.profile.owner is None:
            continue
        with transaction.atomic():
            full = used >= allowance
            new_80 = _claim(bundle, Kind.USAGE_80)
            new_100 = full and _claim(bundle, Kind.USAGE_100)
            if not (new_100 or (new_80 and not full)):
                continue
            email_send(
                to=bundle.profile.owner,
                template="billing/email/usage_notice",
                context={
                    "bundle": bundle,
                    "profile": bundle.profile,
                    "full": full,
                    "percent": min(100, used * 100 // allowance),
                    "data_left_bytes": max(0, allowance - used),
                    "topup_url": settings.SIMDESK_SITE_URL
                    + reverse("storefront:card-topup")
                    + f"?iccid={bundle.profile.iccid}",
                },
            )
            sent += 1
    return sent


def renewal_notice_send(*, renewal_id: int) -> bool:
    """Email the customer about the auto-renewal attempt that just failed (with when it is
    tried again), or the final notice that auto-renewal is off; once per attempt."""
    with transaction.atomic():
        claimed = Renewal.objects.filter(
            pk=renewal_id, notified_attempts__lt=F("attempts"), status__in=("due", "failed")
        ).update(notified_attempts=F("attempts"))
        if not claimed:
            return False
        renewal = Renewal.objects.select_related(
            "profile", "profile__plan", "plan", "customer"
        ).get(pk=renewal_id)
        final = renewal.status == Renewal.Status.FAILED
        price = PlanPrice.objects.filter(plan=renewal.plan, price_currency=renewal.currency).first()
        email_send(
            to=renewal.customer,
            template="billing/email/renewal_final" if final else "billing/email/renewal_failed",
            context={
                "renewal": renewal,
                "profile": renewal.profile,
                "has_card": saved_card(customer=renewal.customer) is not None,
                "reason_known": renewal.last_error in KNOWN_REASONS,
                "price": price.price if price is not None else None,
                "ended": renewal.period_start <= timezone.now(),
                "number_keeping": renewal.profile.plan.kind == Plan.Kind.NUMBER_KEEPING,
                "renew_url": renew_url(renewal.profile.iccid),
                "wallet_url": settings.SIMDESK_SITE_URL + reverse("storefront:topup"),
            },
        )
    return True
