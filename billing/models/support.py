"""Support requests: what a customer or a visitor asked through the contact form, optionally
about one of their orders or payments, and how staff handled it."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class SupportRequest(models.Model):
    class Topic(models.TextChoices):
        INSTALLING = "installing", _("Installing or using an eSIM")
        PAYMENT = "payment", _("Payment or top-up")
        REFUND = "refund", _("Refund")
        PLAN = "plan", _("Plan or coverage")
        OTHER = "other", _("Something else")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        ANSWERED = "answered", _("Answered")
        CLOSED = "closed", _("Closed")

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="support_requests",
        help_text=_("Empty when a visitor wrote without signing in."),
    )
    email = models.EmailField(_("email"))
    name = models.CharField(_("name"), max_length=150, blank=True)
    topic = models.CharField(_("topic"), max_length=20, choices=Topic.choices)
    subject = models.CharField(_("subject"), max_length=200)
    message = models.TextField(_("message"), max_length=5000)
    order = models.ForeignKey(
        "billing.Order",
        verbose_name=_("order"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="support_requests",
    )
    payment = models.ForeignKey(
        "billing.Payment",
        verbose_name=_("payment"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="support_requests",
    )
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    staff_note = models.TextField(_("staff note"), blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("handled by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # Set when the acknowledgement went out, so a task run twice sends it once.
    acknowledged_at = models.DateTimeField(_("acknowledgement sent"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("support request")
        verbose_name_plural = _("support requests")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "created_at"], name="billing_support_customer"),
            models.Index(fields=["status", "created_at"], name="billing_support_status"),
        ]
        constraints = [
            models.CheckConstraint(
                name="billing_support_order_or_payment",
                condition=Q(order__isnull=True) | Q(payment__isnull=True),
                violation_error_message=_("A request is about an order or a payment, not both."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.subject}"

    @property
    def number(self) -> str:
        return f"S-{self.pk:06d}" if self.pk else "S-"
