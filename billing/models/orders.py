"""Orders and what follows them: coupons, the lines bought, the eSIMs and bundles delivered,
and refunds. Prices are copied onto the lines when the order is placed."""

import uuid
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from djmoney.money import Money
from simple_history.models import HistoricalRecords

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

from billing.models.payments import Payment


def _money_field(verbose_name: "StrOrPromise") -> models.DecimalField:
    return models.DecimalField(verbose_name, max_digits=14, decimal_places=2, default=Decimal(0))


class Coupon(models.Model):
    """A discount code kept by reseller staff."""

    class Kind(models.TextChoices):
        PERCENT = "percent", _("Percentage off")
        FIXED = "fixed", _("Fixed amount off")

    code = models.CharField(
        _("code"),
        max_length=40,
        unique=True,
        help_text=_("Stored in capitals; customers may type it in any case."),
    )
    description = models.CharField(_("description"), max_length=200, blank=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    percent = models.DecimalField(
        _("percentage off"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    amount = models.DecimalField(
        _("amount off"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    currency = models.CharField(
        _("currency"),
        max_length=3,
        blank=True,
        help_text=_("Required for a fixed amount or a minimum spend; empty: any currency."),
    )
    min_spend = models.DecimalField(
        _("minimum spend"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    valid_from = models.DateTimeField(_("valid from"), default=timezone.now)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    max_uses = models.PositiveIntegerField(
        _("total uses allowed"), null=True, blank=True, help_text=_("Empty: no limit.")
    )
    max_uses_per_customer = models.PositiveIntegerField(
        _("uses per customer"), null=True, blank=True, default=1, help_text=_("Empty: no limit.")
    )
    uses = models.PositiveIntegerField(_("times used"), default=0, editable=False)
    plans = models.ManyToManyField(
        "catalog.Plan",
        verbose_name=_("plans"),
        blank=True,
        related_name="+",
        help_text=_("Empty: every plan."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    # Staff edits; redemptions move `uses` with a guarded update, which history does not see.
    history = HistoricalRecords(excluded_fields=["uses"])

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="percent") & Q(percent__gt=0, percent__lte=100) & Q(amount=None))
                | (Q(kind="fixed") & Q(amount__gt=0) & Q(percent=None) & ~Q(currency="")),
                name="billing_coupon_kind_value",
                violation_error_message=_(
                    "A percentage coupon needs a percentage from 0 to 100; a fixed one an amount "
                    "and a currency."
                ),
            ),
            models.CheckConstraint(
                condition=Q(min_spend=None) | ~Q(currency=""),
                name="billing_coupon_min_spend_currency",
                violation_error_message=_("A minimum spend needs a currency."),
            ),
            # The counter is the atomic limit: it can never pass the total allowed.
            models.CheckConstraint(
                condition=Q(max_uses=None) | Q(uses__lte=F("max_uses")),
                name="billing_coupon_uses_le_max",
            ),
            models.CheckConstraint(
                condition=Q(code__regex=r"^[A-Z0-9_-]+$"),
                name="billing_coupon_code_format",
                violation_error_message=_("Codes use letters, digits, dashes and underscores."),
            ),
            models.CheckConstraint(
                condition=Q(valid_until=None) | Q(valid_until__gt=F("valid_from")),
                name="billing_coupon_window",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", _("Pending payment")
        PAID = "paid", _("Paid")
        FULFILLED = "fulfilled", _("Fulfilled")
        AWAITING_STOCK = "awaiting_stock", _("Awaiting stock")
        CANCELED = "canceled", _("Canceled")
        REFUNDED = "refunded", _("Refunded")
        PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")

    class PaidWith(models.TextChoices):
        WALLET = "wallet", _("Wallet")
        GATEWAY = "gateway", _("Payment gateway")

    # Paid for: a later payment for the order is credited to the wallet instead.
    PAID_STATUSES = (
        Status.PAID,
        Status.FULFILLED,
        Status.AWAITING_STOCK,
        Status.REFUNDED,
        Status.PARTIALLY_REFUNDED,
    )

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="orders",
        db_index=False,  # the (customer, created_at) index leads with it
    )
    currency = models.CharField(_("currency"), max_length=3)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PENDING_PAYMENT
    )
    subtotal = _money_field(_("subtotal"))
    discount = _money_field(_("discount"))
    total = _money_field(_("total"))
    # Tax included in the total, when the seller is configured to show it.
    tax = _money_field(_("tax included"))
    tax_label = models.CharField(_("tax"), max_length=40, blank=True)
    refunded_amount = _money_field(_("refunded"))
    coupon = models.ForeignKey(
        Coupon,
        verbose_name=_("coupon"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="orders",
    )
    paid_with = models.CharField(
        _("paid with"), max_length=10, choices=PaidWith.choices, blank=True
    )
    payment = models.OneToOneField(
        Payment,
        verbose_name=_("payment"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="paid_order",
        help_text=_("The gateway payment that paid the order."),
    )
    request_token = models.UUIDField(_("request token"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("placed at"), default=timezone.now)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    fulfilled_at = models.DateTimeField(_("fulfilled at"), null=True, blank=True)
    awaiting_stock_since = models.DateTimeField(_("awaiting stock since"), null=True, blank=True)
    canceled_at = models.DateTimeField(_("canceled at"), null=True, blank=True)
    delivery_sent_at = models.DateTimeField(_("delivery email sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(subtotal__gte=0, discount__gte=0, discount__lte=F("subtotal")),
                name="billing_order_discount_range",
            ),
            models.CheckConstraint(
                condition=Q(total=F("subtotal") - F("discount")), name="billing_order_total"
            ),
            # Refunds never exceed what was paid.
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0, refunded_amount__lte=F("total")),
                name="billing_order_refund_le_total",
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="billing_order_currency_iso"
            ),
            models.UniqueConstraint(
                fields=["customer", "request_token"],
                condition=Q(request_token__isnull=False),
                name="billing_order_request_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="billing_order_customer"),
            models.Index(
                fields=["awaiting_stock_since"],
                name="billing_order_awaiting_stock",
                condition=Q(status="awaiting_stock"),
            ),
            models.Index(
                fields=["created_at"],
                name="billing_order_pending",
                condition=Q(status="pending_payment"),
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def number(self) -> str:
        return f"O{self.pk:08d}" if self.pk else "O-"

    def money(self, amount: Decimal) -> Money:
        return Money(amount, self.currency)

    @property
    def total_money(self) -> Money:
        return Money(self.total, self.currency)

    @property
    def refundable_money(self) -> Money:
        return Money(self.total - self.refunded_amount, self.currency)

    @property
    def is_paid(self) -> bool:
        return self.status in self.PAID_STATUSES


class OrderLine(models.Model):
    class Kind(models.TextChoices):
        ESIM = "esim", _("New eSIM")
        ADDON = "addon", _("Top-up add-on")
        RENEWAL = "renewal", _("Renewal")
        CHANGE = "change", _("Plan change")

    order = models.ForeignKey(
        Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="lines"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    plan = models.ForeignKey(
        "catalog.Plan", verbose_name=_("plan"), on_delete=models.PROTECT, related_name="+"
    )
    # The card an add-on or a renewal is for; empty for a new eSIM.
    profile = models.ForeignKey(
        "catalog.EsimProfile",
        verbose_name=_("eSIM"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="order_lines",
    )
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    unit_price = _money_field(_("unit price"))
    discount = _money_field(_("discount"))
    total = _money_field(_("total"))
    # The plan's name when ordered, so receipts read the same after a rename.
    description = models.CharField(_("description"), max_length=200)
    fulfilled_at = models.DateTimeField(_("fulfilled at"), null=True, blank=True)
    # A plan change only: the new plan replaces the current bundle now (its unused share is
    # credited to the wallet) rather than starting when it ends.
    starts_now = models.BooleanField(_("starts now"), default=False)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["order", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="esim") & Q(profile=None))
                | (
                    Q(kind__in=["addon", "renewal", "change"])
                    & Q(profile__isnull=False)
                    & Q(quantity=1)
                ),
                name="billing_orderline_kind_profile",
            ),
            models.CheckConstraint(
                condition=Q(quantity__gte=1, unit_price__gte=0, discount__gte=0),
                name="billing_orderline_positive",
            ),
            models.CheckConstraint(
                condition=Q(total=F("unit_price") * F("quantity") - F("discount"))
                & Q(total__gte=0),
                name="billing_orderline_total",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.description}"

    @property
    def unit_money(self) -> Money:
        return Money(self.unit_price, self.order.currency)

    @property
    def total_money(self) -> Money:
        return Money(self.total, self.order.currency)


class Delivery(models.Model):
    """What fulfilment gave a line: an eSIM (a new profile) and its bundle, or a bundle added
    to the customer's card. One per (line, profile): fulfilment run twice adds nothing."""

    line = models.ForeignKey(
        OrderLine, verbose_name=_("order line"), on_delete=models.CASCADE, related_name="deliveries"
    )
    profile = models.ForeignKey(
        "catalog.EsimProfile",
        verbose_name=_("eSIM"),
        on_delete=models.PROTECT,
        related_name="deliveries",
    )
    bundle = models.OneToOneField(
        "catalog.Bundle",
        verbose_name=_("bundle"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="delivery",
        help_text=_("Empty when an add-on added its data to an existing bundle."),
    )
    created_at = models.DateTimeField(_("delivered at"), default=timezone.now)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ["line", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["line", "profile"], name="billing_delivery_unique")
        ]

    def __str__(self) -> str:
        return f"{self.line_id}: {self.profile_id}"


class Refund(models.Model):
    """A refund of (part of) an order: asked by the customer or started by staff, decided by
    finance, paid back to the wallet or to the original payment method."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Waiting for review")
        PROCESSING = "processing", _("Approved, processing")
        COMPLETED = "completed", _("Refunded")
        REJECTED = "rejected", _("Rejected")
        FAILED = "failed", _("Failed")

    class Destination(models.TextChoices):
        WALLET = "wallet", _("Wallet")
        ORIGINAL = "original", _("Original payment method")

    OPEN = (Status.REQUESTED, Status.PROCESSING)

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    order = models.ForeignKey(
        Order, verbose_name=_("order"), on_delete=models.PROTECT, related_name="refunds"
    )
    profile = models.ForeignKey(
        "catalog.EsimProfile",
        verbose_name=_("eSIM"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="refunds",
        help_text=_("The eSIM given back; it is voided when the refund is approved."),
    )
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    destination = models.CharField(
        _("refund to"), max_length=10, choices=Destination.choices, blank=True
    )
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.REQUESTED
    )
    reason = models.TextField(_("reason"), blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty when the system refunded (an order that waited too long for stock)."),
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("note to the customer"), blank=True)
    gateway_refund_id = models.CharField(_("gateway refund id"), max_length=255, blank=True)
    failure_message = models.CharField(_("failure message"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("requested at"), default=timezone.now)
    completed_at = models.DateTimeField(_("refunded at"), null=True, blank=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-created_at", "-id"]
        permissions = [("decide_refund", _("Can approve or reject refunds"))]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="billing_refund_positive"),
            # One open request per eSIM: a second click does not queue a second refund.
            models.UniqueConstraint(
                fields=["profile"],
                condition=Q(status__in=["requested", "processing"]) & Q(profile__isnull=False),
                name="billing_refund_one_open_per_esim",
            ),
        ]
        indexes = [
            models.Index(
                fields=["created_at"],
                name="billing_refund_open",
                condition=Q(status__in=["requested", "processing"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.amount} {self.currency} {self.status}"

    @property
    def number(self) -> str:
        return f"R{self.pk:08d}" if self.pk else "R-"

    @property
    def amount_money(self) -> Money:
        return Money(self.amount, self.currency)

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN


class CouponRedemption(models.Model):
    """One use of a coupon by an order. Released (deleted) when the order is canceled unpaid."""

    coupon = models.ForeignKey(
        Coupon, verbose_name=_("coupon"), on_delete=models.PROTECT, related_name="redemptions"
    )
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    order = models.OneToOneField(
        Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="redemption"
    )
    discount = models.DecimalField(_("discount"), max_digits=14, decimal_places=2)
    created_at = models.DateTimeField(_("used at"), default=timezone.now)

    class Meta:
        verbose_name = _("coupon use")
        verbose_name_plural = _("coupon uses")
        indexes = [models.Index(fields=["coupon", "customer"], name="billing_redemption_customer")]

    def __str__(self) -> str:
        return f"{self.coupon_id} by {self.customer_id}"
