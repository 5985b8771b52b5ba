"""Gateway reconciliation: what the gateway reports against what the ledger's clearing account
holds, run by finance or the daily task, kept as a history; and the payouts a gateway made to
our bank, each recorded once."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from djmoney.money import Money

from billing.models.payments import Payment


class ReconciliationRun(models.Model):
    """One comparison of a gateway's transactions with the ledger for a day or a range.
    Runs are never changed: running the same range again makes a new run."""

    class Status(models.TextChoices):
        CLEAN = "clean", _("Everything matches")
        DISCREPANCIES = "discrepancies", _("Discrepancies")
        FAILED = "failed", _("Gateway not reached")

    gateway = models.CharField(_("gateway"), max_length=16, choices=Payment.Gateway.choices)
    start = models.DateField(_("from"))
    end = models.DateField(_("to"))
    ran_at = models.DateTimeField(_("ran at"), default=timezone.now)
    run_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("run by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty when the daily task ran it."),
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    error = models.TextField(_("error"), blank=True)
    matched_count = models.PositiveIntegerField(_("matched"), default=0)
    missing_in_ledger_count = models.PositiveIntegerField(_("missing in the ledger"), default=0)
    missing_at_gateway_count = models.PositiveIntegerField(_("missing at the gateway"), default=0)
    mismatch_count = models.PositiveIntegerField(_("amount mismatches"), default=0)
    # {"USD": {"gateway_gross": "10.00", "gateway_fees": "0.30", "ledger": "10.00"}}
    totals = models.JSONField(_("totals per currency"), default=dict)

    class Meta:
        verbose_name = _("reconciliation run")
        verbose_name_plural = _("reconciliation runs")
        ordering = ["-ran_at", "-id"]
        permissions = [("run_reconciliation", _("Can run gateway reconciliation"))]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gte=models.F("start")), name="billing_recon_range"
            ),
        ]
        indexes = [models.Index(fields=["gateway", "start", "end"], name="billing_recon_range_idx")]

    def __str__(self) -> str:
        if self.start == self.end:
            return f"{self.gateway} {self.start}"
        return f"{self.gateway} {self.start}..{self.end}"

    @property
    def discrepancy_count(self) -> int:
        return self.missing_in_ledger_count + self.missing_at_gateway_count + self.mismatch_count


class ReconciliationItem(models.Model):
    """One payment, refund or payout of a run, and whether both sides agree on it."""

    class Result(models.TextChoices):
        MATCHED = "matched", _("Matched")
        MISSING_IN_LEDGER = "missing_in_ledger", _("Missing in the ledger")
        MISSING_AT_GATEWAY = "missing_at_gateway", _("Missing at the gateway")
        AMOUNT_MISMATCH = "amount_mismatch", _("Amount mismatch")

    class Kind(models.TextChoices):
        PAYMENT = "payment", _("Payment")
        REFUND = "refund", _("Refund")
        PAYOUT = "payout", _("Payout")

    run = models.ForeignKey(
        ReconciliationRun, verbose_name=_("run"), on_delete=models.CASCADE, related_name="items"
    )
    result = models.CharField(_("result"), max_length=20, choices=Result.choices)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    reference = models.CharField(
        _("reference"),
        max_length=255,
        help_text=_("The gateway's id: the payment, the refund or the payout."),
    )
    payment = models.ForeignKey(
        Payment,
        verbose_name=_("payment"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    refund = models.ForeignKey(
        "billing.Refund",
        verbose_name=_("refund"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    entry = models.ForeignKey(
        "billing.JournalEntry",
        verbose_name=_("journal entry"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    payout = models.ForeignKey(
        "billing.GatewayPayout",
        verbose_name=_("payout"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    currency = models.CharField(_("currency"), max_length=3)
    # Signed as the clearing account sees them: a payment in is positive, a refund or a
    # payout out is negative. Empty on the side that has nothing.
    ledger_amount = models.DecimalField(
        _("ledger amount"), max_digits=18, decimal_places=2, null=True, blank=True
    )
    gateway_amount = models.DecimalField(
        _("gateway amount"), max_digits=18, decimal_places=2, null=True, blank=True
    )
    gateway_currency = models.CharField(_("gateway currency"), max_length=3, blank=True)
    gateway_fee = models.DecimalField(
        _("gateway fee"), max_digits=18, decimal_places=2, null=True, blank=True
    )
    occurred_at = models.DateTimeField(_("occurred at"))
    # How finance resolved a discrepancy from the run's page: the entry it led to, who, when, why.
    resolved_entry = models.ForeignKey(
        "billing.JournalEntry",
        verbose_name=_("resolved by the entry"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("resolved by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolution_note = models.TextField(_("resolution note"), blank=True)

    class Meta:
        verbose_name = _("reconciliation item")
        verbose_name_plural = _("reconciliation items")
        ordering = ["run", "result", "occurred_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_result_display()}: {self.kind} {self.reference}"

    @property
    def difference(self) -> Decimal | None:
        if self.ledger_amount is None or self.gateway_amount is None:
            return None
        return self.gateway_amount - self.ledger_amount


class GatewayPayout(models.Model):
    """Money the gateway sent to our bank: bank (and the fees it kept) against clearing."""

    gateway = models.CharField(_("gateway"), max_length=16, choices=Payment.Gateway.choices)
    reference = models.CharField(
        _("payout reference"), max_length=150, help_text=_("The gateway's id for the payout.")
    )
    currency = models.CharField(_("currency"), max_length=3)
    amount = models.DecimalField(_("amount to the bank"), max_digits=18, decimal_places=2)
    fees = models.DecimalField(_("fees"), max_digits=18, decimal_places=2, default=Decimal(0))
    paid_on = models.DateField(_("paid on"))
    entry = models.OneToOneField(
        "billing.JournalEntry",
        verbose_name=_("journal entry"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    class Meta:
        verbose_name = _("gateway payout")
        verbose_name_plural = _("gateway payouts")
        ordering = ["-paid_on", "-id"]
        permissions = [("record_payout", _("Can record a gateway payout"))]
        constraints = [
            models.UniqueConstraint(
                fields=["gateway", "reference"], name="billing_payout_reference_unique"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="billing_payout_positive"),
            models.CheckConstraint(condition=Q(fees__gte=0), name="billing_payout_fees"),
        ]

    def __str__(self) -> str:
        return f"{self.gateway} {self.reference}"

    @property
    def amount_money(self) -> Money:
        return Money(self.amount, self.currency)

    @property
    def fees_money(self) -> Money:
        return Money(self.fees, self.currency)
