"""The double-entry ledger: accounts, journal entries, postings.

Postings carry a signed amount, debits positive and credits negative, and every entry sums to
zero per currency. An account's cached `balance` is kept on its normal side: positive for an
asset or expense account that was debited, and for a liability, equity or revenue account that
was credited. So a customer's wallet (a liability: money we hold for them) shows what it holds,
and the database refuses a wallet below zero.

Entries and postings are append-only; PostgreSQL enforces that and the balancing with triggers
(migration 0002), and only `billing.services.ledger.ledger_post` writes them.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from djmoney.money import Money

AMOUNT_DIGITS = 18
AMOUNT_PLACES = 2  # billing.money.LEDGER_DECIMAL_PLACES
IDEMPOTENCY_KEY_MAX_LENGTH = 200


class LedgerAccount(models.Model):
    class Type(models.TextChoices):
        ASSET = "asset", _("Asset")
        LIABILITY = "liability", _("Liability")
        EQUITY = "equity", _("Equity")
        REVENUE = "revenue", _("Revenue")
        EXPENSE = "expense", _("Expense")

    class Purpose(models.TextChoices):
        """What an account is for; with the currency it names one system account."""

        CASH_ON_HAND = "cash_on_hand", _("Cash on hand")
        BANK = "bank", _("Bank")
        GATEWAY_CLEARING = "gateway_clearing", _("Gateway clearing")
        ESIM_INVENTORY = "esim_inventory", _("eSIM inventory")
        SUPPLIER_PAYABLE = "supplier_payable", _("Supplier payable")
        CUSTOMER_WALLET = "customer_wallet", _("Customer wallet")
        SALES_REVENUE = "sales_revenue", _("Sales revenue")
        SALES_REFUNDS = "sales_refunds", _("Sales refunds")
        COST_OF_SALES = "cost_of_sales", _("Cost of sales")
        PROMOTIONS = "promotions", _("Promotions expense")
        GATEWAY_FEES = "gateway_fees", _("Gateway fees")
        ADJUSTMENTS = "adjustments", _("Adjustments")

    code = models.CharField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    type = models.CharField(_("type"), max_length=16, choices=Type.choices)
    purpose = models.CharField(_("purpose"), max_length=32, choices=Purpose.choices)
    currency = models.CharField(_("currency"), max_length=3)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_accounts",
        help_text=_("The customer, for a wallet; empty for the business's own accounts."),
    )
    balance = models.DecimalField(
        _("balance"), max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES, default=Decimal(0)
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("ledger account")
        verbose_name_plural = _("ledger accounts")
        ordering = ["code"]
        permissions = [
            ("adjust_wallet", _("Can adjust a customer's wallet")),
            ("view_financial_reports", _("Can read financial reports and export the journal")),
        ]
        constraints = [
            # A wallet is a customer's liability account; every other account is the business's.
            models.CheckConstraint(
                name="billing_account_wallet_has_owner",
                condition=Q(owner__isnull=False, purpose="customer_wallet", type="liability")
                | (Q(owner__isnull=True) & ~Q(purpose="customer_wallet")),
            ),
            # Invariant 3: a customer's wallet never goes below zero.
            models.CheckConstraint(
                name="billing_wallet_not_negative",
                condition=Q(owner__isnull=True) | Q(balance__gte=0),
            ),
            models.UniqueConstraint(
                fields=["owner", "currency"],
                condition=Q(owner__isnull=False),
                name="billing_one_wallet_per_currency",
            ),
            models.UniqueConstraint(
                fields=["purpose", "currency"],
                condition=Q(owner__isnull=True),
                name="billing_one_system_account_per_currency",
            ),
            # Target of the postings' (account, currency) foreign key (migration 0002).
            models.UniqueConstraint(fields=["id", "currency"], name="billing_account_id_currency"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def is_wallet(self) -> bool:
        return self.owner_id is not None

    @property
    def normal_sign(self) -> int:
        """+1 when debits raise the balance (assets, expenses), -1 when credits do."""
        return 1 if self.type in DEBIT_NORMAL_TYPES else -1

    @property
    def balance_money(self) -> Money:
        return Money(self.balance, self.currency)


# Accounts whose balance rises with debits; the others rise with credits.
DEBIT_NORMAL_TYPES = (LedgerAccount.Type.ASSET, LedgerAccount.Type.EXPENSE)


class JournalEntry(models.Model):
    class Kind(models.TextChoices):
        TOPUP = "topup", _("Wallet top-up")
        COUNTER_TOPUP = "counter_topup", _("Counter top-up")
        PURCHASE = "purchase", _("Purchase")
        COST_OF_SALE = "cost_of_sale", _("Cost of sale")
        INVENTORY_RECEIPT = "inventory_receipt", _("Inventory received")
        REFUND = "refund", _("Refund")
        PAYOUT = "payout", _("Gateway payout")
        ADJUSTMENT = "adjustment", _("Adjustment")
        TRANSFER = "transfer", _("Transfer")

    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    memo = models.TextField(_("memo"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # partial index below: most entries are the system's
        help_text=_("The staff member who made this entry; empty when the system did."),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    # Invariant 5: whatever caused the entry posts at most once.
    idempotency_key = models.CharField(_("idempotency key"), max_length=IDEMPOTENCY_KEY_MAX_LENGTH)
    # What caused the entry (optional links; later issues add payments, orders, refunds).
    import_batch = models.ForeignKey(
        "catalog.ImportBatch",
        verbose_name=_("import batch"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    payment = models.ForeignKey(
        "billing.Payment",
        verbose_name=_("payment"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="entries",
        db_index=False,
    )

    class Meta:
        verbose_name = _("journal entry")
        verbose_name_plural = _("journal entries")
        ordering = ["-created_at", "-id"]
        constraints = [
            # Invariant 5 (a plain unique index: keys are matched whole, never by prefix).
            models.UniqueConstraint(fields=["idempotency_key"], name="billing_entry_key_unique"),
        ]
        indexes = [
            # Who did what, and what an import posted; most entries have neither.
            models.Index(
                fields=["created_by"],
                name="billing_entry_created_by",
                condition=Q(created_by__isnull=False),
            ),
            models.Index(
                fields=["import_batch"],
                name="billing_entry_import_batch",
                condition=Q(import_batch__isnull=False),
            ),
            models.Index(
                fields=["payment"],
                name="billing_entry_payment",
                condition=Q(payment__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()}"


class Posting(models.Model):
    entry = models.ForeignKey(
        JournalEntry,
        verbose_name=_("journal entry"),
        on_delete=models.PROTECT,
        related_name="postings",
    )
    account = models.ForeignKey(
        LedgerAccount,
        verbose_name=_("account"),
        on_delete=models.PROTECT,
        related_name="postings",
        db_index=False,  # the (account, id) index below serves
    )
    amount = models.DecimalField(
        _("amount"),
        max_digits=AMOUNT_DIGITS,
        decimal_places=AMOUNT_PLACES,
        help_text=_("Positive for a debit, negative for a credit."),
    )
    currency = models.CharField(_("currency"), max_length=3)

    class Meta:
        verbose_name = _("posting")
        verbose_name_plural = _("postings")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(name="billing_posting_not_zero", condition=~Q(amount=0)),
        ]
        indexes = [
            # Statements page through one account's postings newest first.
            models.Index(fields=["account", "id"], name="billing_posting_account_id"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk}"

    @property
    def debit(self) -> Decimal | None:
        return self.amount if self.amount > 0 else None

    @property
    def credit(self) -> Decimal | None:
        return -self.amount if self.amount < 0 else None
