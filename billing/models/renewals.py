"""Renewals over time: a card's auto-renewal choice, each period it charges (once), and the
reminders sent about a period (once each)."""

from datetime import UTC, datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class AutoRenewal(models.Model):
    """The customer's standing order for one card: renew it to `plan`, paid in `currency`
    from the wallet first and the saved card second."""

    profile = models.OneToOneField(
        "catalog.EsimProfile",
        verbose_name=_("eSIM"),
        on_delete=models.CASCADE,
        related_name="auto_renewal",
    )
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="auto_renewals",
    )
    plan = models.ForeignKey(
        "catalog.Plan", verbose_name=_("renew to"), on_delete=models.PROTECT, related_name="+"
    )
    currency = models.CharField(_("currency"), max_length=3)
    enabled = models.BooleanField(_("on"), default=True)
    # Why it was turned off by us (the last retry failed); empty when the customer did.
    disabled_reason = models.CharField(_("turned off because"), max_length=255, blank=True)
    updated_at = models.DateTimeField(_("changed"), auto_now=True)

    class Meta:
        verbose_name = _("auto-renewal")
        verbose_name_plural = _("auto-renewals")
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return f"{self.profile_id} → {self.plan_id} ({'on' if self.enabled else 'off'})"


class Renewal(models.Model):
    """One period of a card charged by auto-renewal. `key` (renew:<eSIM>:<period start>) is
    unique, so a period is charged at most once however many sweeps and tasks run."""

    class Status(models.TextChoices):
        DUE = "due", _("Due")
        SUCCEEDED = "succeeded", _("Renewed")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Not needed")

    class PaidWith(models.TextChoices):
        WALLET = "wallet", _("Wallet")
        CARD = "card", _("Saved card")

    key = models.CharField(_("key"), max_length=80, unique=True)
    profile = models.ForeignKey(
        "catalog.EsimProfile",
        verbose_name=_("eSIM"),
        on_delete=models.PROTECT,
        related_name="renewals",
    )
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="renewals",
    )
    plan = models.ForeignKey(
        "catalog.Plan", verbose_name=_("plan"), on_delete=models.PROTECT, related_name="+"
    )
    currency = models.CharField(_("currency"), max_length=3)
    period_start = models.DateTimeField(_("period starts"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DUE
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # The attempt whose email went out: a notice task delivered twice sends one email.
    notified_attempts = models.PositiveSmallIntegerField(_("attempts notified"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"))
    # The order of the current (or the successful) attempt, and its card payment if any.
    order = models.ForeignKey(
        "billing.Order",
        verbose_name=_("order"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="renewals",
    )
    payment = models.ForeignKey(
        "billing.Payment",
        verbose_name=_("card payment"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="renewals",
    )
    paid_with = models.CharField(
        _("paid with"), max_length=10, choices=PaidWith.choices, blank=True
    )
    last_error = models.CharField(_("last error"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("renewal")
        verbose_name_plural = _("renewals")
        ordering = ["-period_start", "-pk"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="due"),
                name="billing_renewal_due",
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="succeeded") | (Q(order__isnull=False) & ~Q(paid_with="")),
                name="billing_renewal_success_paid",
            )
        ]

    def __str__(self) -> str:
        return self.key


def renewal_key(profile_id: int, period_start: datetime) -> str:
    """renew:<eSIM>:<period start>, the period start in UTC to the second."""
    return f"renew:{profile_id}:{period_start.astimezone(UTC):%Y%m%dT%H%M%SZ}"


class Reminder(models.Model):
    """An email about one period (bundle) of a card: before it ends, or at a share of its data
    used. One row per (eSIM, period, kind): the row is written with the send, so a second
    sweep or a second beat finds it and sends nothing."""

    class Kind(models.TextChoices):
        EXPIRY_30D = "expiry_30d", _("30 days before expiry")
        EXPIRY_7D = "expiry_7d", _("7 days before expiry")
        EXPIRY_3D = "expiry_3d", _("3 days before expiry")
        EXPIRY_1D = "expiry_1d", _("1 day before expiry")
        # xgettext:no-python-format
        USAGE_80 = "usage_80", _("80% of data used")
        USAGE_100 = "usage_100", _("All data used")

    profile = models.ForeignKey(
        "catalog.EsimProfile",
        verbose_name=_("eSIM"),
        on_delete=models.CASCADE,
        related_name="reminders",
    )
    bundle = models.ForeignKey(
        "catalog.Bundle",
        verbose_name=_("period"),
        on_delete=models.CASCADE,
        related_name="reminders",
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    sent_at = models.DateTimeField(_("sent"), auto_now_add=True)

    class Meta:
        verbose_name = _("reminder")
        verbose_name_plural = _("reminders")
        ordering = ["-sent_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["profile", "bundle", "kind"], name="billing_reminder_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.profile_id}/{self.bundle_id}"
