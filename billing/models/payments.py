"""Payments: money a customer sends us through a gateway or hands over at the counter, the
gateway's events about it, and the bonus tiers staff keep for wallet top-ups."""

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from djmoney.money import Money
from simple_history.models import HistoricalRecords


class Payment(models.Model):
    class Purpose(models.TextChoices):
        WALLET_TOPUP = "wallet_topup", _("Wallet top-up")
        ORDER = "order", _("Order")

    class Method(models.TextChoices):
        CARD = "card", _("Card")
        ALIPAY = "alipay", _("Alipay")
        WECHAT_PAY = "wechat_pay", _("WeChat Pay")
        SANDBOX = "sandbox", _("Test gateway")
        CASH = "cash", _("Cash at the counter")
        BANK_TRANSFER = "bank_transfer", _("Bank transfer")

    class Gateway(models.TextChoices):
        STRIPE = "stripe", _("Stripe")
        SANDBOX = "sandbox", _("Sandbox (test gateway)")
        COUNTER = "counter", _("Store counter or bank")

    class Status(models.TextChoices):
        CREATED = "created", _("Created")
        PENDING = "pending", _("Processing")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        CANCELED = "canceled", _("Canceled")
        REFUNDED = "refunded", _("Refunded")
        PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")

    # Statuses in which money was captured: a later "failed" changes nothing.
    CAPTURED = (Status.SUCCEEDED, Status.REFUNDED, Status.PARTIALLY_REFUNDED)
    # Statuses the customer is still waiting on.
    OPEN = (Status.CREATED, Status.PENDING)

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="payments",
        db_index=False,  # the (customer, created_at) index below leads with it
    )
    purpose = models.CharField(_("purpose"), max_length=16, choices=Purpose.choices)
    order = models.ForeignKey(
        "billing.Order",
        verbose_name=_("order"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payments",
    )
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    bonus = models.DecimalField(
        _("bonus"),
        max_digits=14,
        decimal_places=2,
        default=Decimal(0),
        help_text=_("Credited to the wallet on top of the amount, from promotions."),
    )
    currency = models.CharField(_("currency"), max_length=3)
    refunded_amount = models.DecimalField(
        _("refunded"), max_digits=14, decimal_places=2, default=Decimal(0)
    )
    method = models.CharField(_("method"), max_length=16, choices=Method.choices)
    gateway = models.CharField(_("gateway"), max_length=16, choices=Gateway.choices)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.CREATED
    )
    failure_message = models.CharField(_("failure message"), max_length=500, blank=True)
    bonus_tier = models.ForeignKey(
        "billing.BonusTier",
        verbose_name=_("bonus tier"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # Gateway references: the payment (Stripe PaymentIntent), the hosted page (Checkout
    # Session), the gateway's customer and the saved payment method.
    gateway_payment_id = models.CharField(_("gateway payment id"), max_length=255, blank=True)
    gateway_session_id = models.CharField(_("gateway session id"), max_length=255, blank=True)
    gateway_customer_id = models.CharField(_("gateway customer id"), max_length=255, blank=True)
    gateway_method_id = models.CharField(_("saved payment method"), max_length=255, blank=True)
    redirect_url = models.TextField(_("gateway page"), blank=True)
    # The form's one-time token: a double submit finds the payment it already made.
    request_token = models.UUIDField(_("request token"), null=True, blank=True, editable=False)
    # Store counter and bank transfer: who took the money and the slip or transfer reference.
    reference = models.CharField(_("reference"), max_length=200, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    settled_at = models.DateTimeField(_("settled at"), null=True, blank=True)
    confirmation_sent_at = models.DateTimeField(_("confirmation sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-created_at", "-id"]
        permissions = [("record_counter_payment", _("Can record money received at the counter"))]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="billing_payment_positive"),
            models.CheckConstraint(condition=Q(bonus__gte=0), name="billing_payment_bonus"),
            # Invariant 6: refunds never exceed what was captured.
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0, refunded_amount__lte=F("amount")),
                name="billing_payment_refund_le_amount",
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="billing_payment_currency_iso"
            ),
            models.UniqueConstraint(
                fields=["customer", "request_token"],
                condition=Q(request_token__isnull=False),
                name="billing_payment_request_unique",
            ),
            models.UniqueConstraint(
                fields=["gateway", "gateway_payment_id"],
                condition=~Q(gateway_payment_id=""),
                name="billing_payment_gateway_id_unique",
            ),
            models.CheckConstraint(
                condition=~Q(gateway="counter") | Q(recorded_by__isnull=False),
                name="billing_payment_counter_recorded_by",
            ),
            models.CheckConstraint(
                condition=(Q(purpose="order") & Q(order__isnull=False))
                | (~Q(purpose="order") & Q(order__isnull=True)),
                name="billing_payment_order_purpose",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="billing_payment_customer"),
            # The sweeper's question: which payments are still open, oldest first.
            models.Index(
                fields=["created_at"],
                name="billing_payment_open",
                condition=Q(status__in=["created", "pending"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.receipt_number} {self.amount} {self.currency} {self.status}"

    @property
    def receipt_number(self) -> str:
        return f"P{self.pk:08d}" if self.pk else "P-"

    @property
    def amount_money(self) -> Money:
        return Money(self.amount, self.currency)

    @property
    def bonus_money(self) -> Money:
        return Money(self.bonus, self.currency)

    @property
    def credited_money(self) -> Money:
        """What a top-up puts in the wallet: the amount plus the bonus."""
        return Money(self.amount + self.bonus, self.currency)

    @property
    def refunded_money(self) -> Money:
        return Money(self.refunded_amount, self.currency)

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN

    @property
    def is_captured(self) -> bool:
        return self.status in self.CAPTURED


class GatewayEvent(models.Model):
    """A webhook event as the gateway sent it; its id is unique, so it is processed once."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        PROCESSED = "processed", _("Processed")
        IGNORED = "ignored", _("Ignored")
        FAILED = "failed", _("Failed")

    gateway = models.CharField(_("gateway"), max_length=16, choices=Payment.Gateway.choices)
    event_id = models.CharField(_("event id"), max_length=255)
    type = models.CharField(_("type"), max_length=100)
    payload = models.JSONField(_("payload"))
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.RECEIVED
    )
    payment = models.ForeignKey(
        Payment,
        verbose_name=_("payment"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events",
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    # After a failure: when the sweeper tries again (empty once the retries are used up).
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)

    class Meta:
        verbose_name = _("gateway event")
        verbose_name_plural = _("gateway events")
        ordering = ["-received_at", "-id"]
        permissions = [("replay_gatewayevent", _("Can replay a gateway event"))]
        constraints = [
            # A duplicate delivery is answered 200 and never processed again.
            models.UniqueConstraint(fields=["gateway", "event_id"], name="billing_event_unique"),
        ]
        indexes = [
            models.Index(
                fields=["received_at"],
                name="billing_event_unfinished",
                condition=Q(status__in=["received", "failed"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.gateway} {self.type} {self.event_id}"


class BonusTier(models.Model):
    """Extra wallet credit for larger top-ups: from an amount, a percentage or a fixed sum."""

    name = models.CharField(_("name"), max_length=100)
    currency = models.CharField(_("currency"), max_length=3)
    min_amount = models.DecimalField(
        _("from amount"),
        max_digits=14,
        decimal_places=2,
        help_text=_("Top-ups of at least this amount qualify."),
    )
    percent = models.DecimalField(
        _("percentage bonus"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    fixed_bonus = models.DecimalField(
        _("fixed bonus"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    starts_at = models.DateTimeField(_("starts"), default=timezone.now)
    ends_at = models.DateTimeField(_("ends"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("bonus tier")
        verbose_name_plural = _("bonus tiers")
        ordering = ["currency", "min_amount"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(percent__isnull=False) & Q(fixed_bonus__isnull=True))
                | (Q(percent__isnull=True) & Q(fixed_bonus__isnull=False)),
                name="billing_bonus_percent_xor_fixed",
            ),
            models.CheckConstraint(
                condition=Q(percent__isnull=True) | Q(percent__gt=0, percent__lte=100),
                name="billing_bonus_percent_range",
            ),
            models.CheckConstraint(
                condition=Q(fixed_bonus__isnull=True) | Q(fixed_bonus__gt=0),
                name="billing_bonus_fixed_positive",
            ),
            models.CheckConstraint(condition=Q(min_amount__gt=0), name="billing_bonus_min"),
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=F("starts_at")),
                name="billing_bonus_window",
            ),
        ]

    def __str__(self) -> str:
        if self.percent is not None:
            return f"{self.name}: +{self.percent.normalize():f}% from {self.min_amount} {self.currency}"
        return f"{self.name}: +{self.fixed_bonus} {self.currency} from {self.min_amount}"


class SandboxCharge(models.Model):
    """The sandbox gateway's own record of a charge: what a real gateway keeps on its side.
    The sweeper and reconciliation ask it, never our Payment, what happened."""

    class Status(models.TextChoices):
        OPEN = "open", _("Waiting for the customer")
        PROCESSING = "processing", _("Processing")
        SUCCEEDED = "succeeded", _("Paid")
        FAILED = "failed", _("Declined")

    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    charge_id = models.CharField(max_length=64, unique=True)
    reference = models.CharField(
        max_length=64, unique=True, help_text="The merchant's payment reference."
    )
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    description = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    amount_refunded = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal(0))
    customer_ref = models.CharField(max_length=64, blank=True)
    method_ref = models.CharField(max_length=64, blank=True)
    # Empty for a charge made with the customer away: no page to return to, no event to send.
    webhook_url = models.URLField(max_length=500, blank=True)
    return_url = models.URLField(max_length=500, blank=True)
    settles_at = models.DateTimeField(null=True, blank=True)
    # When the charge succeeded: the day it counts in the sandbox's reconciliation report.
    paid_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("sandbox charge")
        verbose_name_plural = _("sandbox charges")
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_refunded__lte=F("amount")), name="billing_sandbox_refund_le"
            ),
        ]

    def __str__(self) -> str:
        return self.charge_id


class SandboxRefund(models.Model):
    """The sandbox gateway's record of one refund of a charge, as a real gateway lists it."""

    charge = models.ForeignKey(SandboxCharge, on_delete=models.CASCADE, related_name="refunds")
    refund_id = models.CharField(max_length=100, unique=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("sandbox refund")
        verbose_name_plural = _("sandbox refunds")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="billing_sandbox_refund_pos"),
        ]

    def __str__(self) -> str:
        return self.refund_id
