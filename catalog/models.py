from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField
from djmoney.models.fields import MoneyField
from simple_history.models import HistoricalRecords

MB = 1024 * 1024


class LocalizedNameMixin(models.Model):
    """An English name and a Chinese one; staff fill both, customers see theirs."""

    name = models.CharField(_("name (English)"), max_length=120)
    name_zh_hans = models.CharField(_("name (Simplified Chinese)"), max_length=120, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name

    @property
    def display_name(self) -> str:
        if translation.get_language() == "zh-hans" and self.name_zh_hans:
            return self.name_zh_hans
        return self.name


class Region(LocalizedNameMixin):
    """A named set of countries sold together (Europe 33, Asia 12, Global)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    countries = CountryField(_("countries"), multiple=True, blank=True)

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        ordering = ["name"]


class Plan(LocalizedNameMixin):
    class Kind(models.TextChoices):
        DATA = "data", _("Data")
        UNLIMITED = "unlimited", _("Unlimited")
        NUMBER_KEEPING = "number_keeping", _("Number keeping")
        TOPUP = "topup", _("Top-up add-on")

    class Network(models.TextChoices):
        LTE = "4g", _("4G")
        NR = "5g", _("5G")

    class ActivationPolicy(models.TextChoices):
        ON_INSTALL = "on_install", _("Starts when installed")
        ON_FIRST_USE = "on_first_use", _("Starts when you first connect")

    class AddonMode(models.TextChoices):
        QUEUE = "queue", _("Starts when the current bundle ends")
        EXTEND = "extend", _("Adds its data to the current bundle")

    code = models.SlugField(_("code"), max_length=40, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.DATA)
    country = CountryField(_("country"), blank=True)
    region = models.ForeignKey(
        Region,
        verbose_name=_("region"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="plans",
    )
    data_mb = models.PositiveIntegerField(
        _("data allowance (MB)"), null=True, blank=True, help_text=_("Empty for unlimited.")
    )
    daily_cap_mb = models.PositiveIntegerField(
        _("daily fair-use cap (MB)"), null=True, blank=True, help_text=_("Unlimited plans only.")
    )
    validity_days = models.PositiveIntegerField(_("validity (days)"))
    network = models.CharField(
        _("network"), max_length=2, choices=Network.choices, default=Network.LTE
    )
    hotspot = models.BooleanField(_("hotspot allowed"), default=True)
    activation_policy = models.CharField(
        _("validity starts"),
        max_length=20,
        choices=ActivationPolicy.choices,
        default=ActivationPolicy.ON_FIRST_USE,
    )
    renewable = models.BooleanField(_("renewable"), default=True)
    fits = models.ManyToManyField(
        "self",
        verbose_name=_("base plans this add-on fits"),
        symmetrical=False,
        blank=True,
        related_name="addons",
        limit_choices_to=~Q(kind="topup"),
    )
    addon_mode = models.CharField(
        _("add-on applies"),
        max_length=10,
        choices=AddonMode.choices,
        default=AddonMode.QUEUE,
        help_text=_("Top-up add-ons only: a new period after the current one, or more data now."),
    )
    wholesale_cost = MoneyField(
        _("wholesale cost"), max_digits=12, decimal_places=2, default_currency="USD"
    )
    low_stock_threshold = models.PositiveIntegerField(
        _("low-stock threshold"),
        default=0,
        help_text=_("Reseller staff are emailed when available profiles fall below it. 0: off."),
    )
    # Set when the low-stock email went out; cleared once restocked, so it is sent once a dip.
    low_stock_alerted_at = models.DateTimeField(_("low-stock alert sent"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    # Who changed what, shown by the admin's History page. Stock counts are not part of it.
    history = HistoricalRecords(excluded_fields=["low_stock_alerted_at", "updated_at"])

    class Meta:
        verbose_name = _("plan")
        verbose_name_plural = _("plans")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                name="catalog_plan_one_coverage",
                condition=(Q(country="") & Q(region__isnull=False))
                | (~Q(country="") & Q(region__isnull=True)),
                violation_error_message=_("A plan covers one country or one region."),
            ),
            models.CheckConstraint(
                name="catalog_plan_allowance_matches_kind",
                condition=(Q(kind="unlimited") & Q(data_mb__isnull=True))
                | (~Q(kind="unlimited") & Q(data_mb__isnull=False) & Q(daily_cap_mb__isnull=True)),
                violation_error_message=_(
                    "Unlimited plans have no data allowance; other plans need one and no daily cap."
                ),
            ),
            models.CheckConstraint(
                name="catalog_plan_validity_positive", condition=Q(validity_days__gt=0)
            ),
            models.CheckConstraint(
                name="catalog_plan_cost_not_negative", condition=Q(wholesale_cost__gte=0)
            ),
        ]

    @property
    def is_unlimited(self) -> bool:
        return self.data_mb is None


class PlanPrice(models.Model):
    """The retail price of a plan in one currency; no row, not offered in that currency."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="prices")
    price = MoneyField(_("price"), max_digits=12, decimal_places=2, default_currency="USD")
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("price")
        verbose_name_plural = _("prices")
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "price_currency"], name="catalog_planprice_one_per_currency"
            ),
            models.CheckConstraint(name="catalog_planprice_positive", condition=Q(price__gt=0)),
        ]

    def __str__(self) -> str:
        return f"{self.plan.code} {self.price}"


class PlanPriceChange(models.Model):
    """Audit of every price change: who, when, from what to what. Append-only."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="price_changes")
    currency = models.CharField(_("currency"), max_length=3)
    old_amount = models.DecimalField(_("old price"), max_digits=12, decimal_places=2, null=True)
    new_amount = models.DecimalField(_("new price"), max_digits=12, decimal_places=2, null=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    changed_at = models.DateTimeField(_("changed at"), auto_now_add=True)

    class Meta:
        verbose_name = _("price change")
        verbose_name_plural = _("price changes")
        ordering = ["-changed_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.plan_id} {self.currency}: {self.old_amount} -> {self.new_amount}"


class ImportBatch(models.Model):
    """One CSV file of profiles imported by a reseller."""

    file_name = models.CharField(_("file name"), max_length=255)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    imported_at = models.DateTimeField(_("imported at"), auto_now_add=True)
    rows = models.PositiveIntegerField(_("rows"))

    class Meta:
        verbose_name = _("import batch")
        verbose_name_plural = _("import batches")
        ordering = ["-imported_at"]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.imported_at:%Y-%m-%d %H:%M})"


PROFILE_SECRET_FIELDS = ("matching_id", "confirmation_code")


class EsimProfile(models.Model):
    """An eSIM profile: stock until sold, then the customer's eSIM."""

    class Status(models.TextChoices):
        AVAILABLE = "available", _("Available")
        RESERVED = "reserved", _("Reserved")
        ASSIGNED = "assigned", _("Assigned")
        INSTALLED = "installed", _("Installed")
        EXPIRED = "expired", _("Expired")
        VOID = "void", _("Void")

    iccid = models.CharField(_("ICCID"), max_length=22, unique=True)
    smdp_address = models.CharField(_("SM-DP+ address"), max_length=253)
    # Secrets: masked in lists and exports unless the user may view them; never logged.
    matching_id = models.CharField(_("matching ID"), max_length=255, blank=True)
    confirmation_code = models.CharField(_("confirmation code"), max_length=64, blank=True)
    activation_oid = models.CharField(_("SM-DP+ OID"), max_length=100, blank=True)
    plan = models.ForeignKey(
        Plan, verbose_name=_("plan"), on_delete=models.PROTECT, related_name="profiles"
    )
    wholesale_cost = MoneyField(
        _("wholesale cost"), max_digits=12, decimal_places=2, default_currency="USD"
    )
    batch = models.ForeignKey(
        ImportBatch,
        verbose_name=_("import batch"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="profiles",
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.AVAILABLE
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="esims",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    status_changed_at = models.DateTimeField(_("status changed"), auto_now=True)
    # The secrets never reach the history table (nor anything built from them: the activation
    # code is a property of these fields).
    history = HistoricalRecords(excluded_fields=list(PROFILE_SECRET_FIELDS))

    class Meta:
        verbose_name = _("eSIM profile")
        verbose_name_plural = _("eSIM profiles")
        ordering = ["pk"]
        permissions = [("view_profile_secrets", _("Can view matching IDs and confirmation codes"))]
        indexes = [
            models.Index(fields=["plan", "status"], name="catalog_profile_plan_status"),
            # Allocation takes the lowest available ids of a plan: without this it walks past
            # every profile already sold.
            models.Index(
                fields=["plan", "id"],
                condition=Q(status="available"),
                name="catalog_profile_available",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                name="catalog_profile_iccid_format", condition=Q(iccid__regex=r"^89[0-9]{16,20}$")
            ),
            models.CheckConstraint(
                name="catalog_profile_sold_has_owner",
                condition=Q(status__in=["available", "reserved", "void"]) | Q(owner__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.iccid

    @property
    def activation_code(self) -> str:
        """The SGP.22 activation code the phone scans: LPA:1$<SM-DP+>$<matching id>[...]."""
        code = f"LPA:1${self.smdp_address}${self.matching_id}"
        if self.activation_oid or self.confirmation_code:
            code += f"${self.activation_oid}"
        if self.confirmation_code:
            code += "$1"
        return code


class Bundle(models.Model):
    """One plan applied to one profile. Billing creates and moves them; the states live here."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        ACTIVE = "active", _("Active")
        DEPLETED = "depleted", _("Depleted")
        EXPIRED = "expired", _("Expired")

    profile = models.ForeignKey(
        EsimProfile, verbose_name=_("eSIM"), on_delete=models.PROTECT, related_name="bundles"
    )
    plan = models.ForeignKey(
        Plan, verbose_name=_("plan"), on_delete=models.PROTECT, related_name="bundles"
    )
    data_allowance_mb = models.PositiveIntegerField(_("data allowance (MB)"), null=True, blank=True)
    data_used_bytes = models.PositiveBigIntegerField(_("data used (bytes)"), default=0)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    starts_at = models.DateTimeField(_("starts"), null=True, blank=True)
    ends_at = models.DateTimeField(_("ends"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("bundle")
        verbose_name_plural = _("bundles")
        ordering = ["profile", "created_at"]
        indexes = [
            # The lifecycle sweep: running bundles by end, queued ones by start.
            models.Index(
                fields=["ends_at"],
                condition=Q(status__in=["active", "depleted"]),
                name="catalog_bundle_running_end",
            ),
            models.Index(
                fields=["profile", "id"],
                condition=Q(status="queued"),
                name="catalog_bundle_queued",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                name="catalog_bundle_ends_after_start",
                condition=Q(starts_at__isnull=True)
                | Q(ends_at__isnull=True)
                | Q(ends_at__gt=models.F("starts_at")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plan_id} on {self.profile_id} ({self.status})"

    @property
    def used_fraction(self) -> float | None:
        """How much of the allowance is used, 0 to 1 (more when over); None when unlimited."""
        if not self.data_allowance_mb:
            return None
        return self.data_used_bytes / (self.data_allowance_mb * MB)


class UsageRecord(models.Model):
    """Data a card used in one interval, as the network reported it. One per (card, time):
    importing the same report twice counts it once."""

    class Source(models.TextChoices):
        IMPORT = "import", _("CSV import")
        API = "api", _("Upstream system")

    profile = models.ForeignKey(
        EsimProfile, verbose_name=_("eSIM"), on_delete=models.PROTECT, related_name="usage"
    )
    bundle = models.ForeignKey(
        Bundle, verbose_name=_("bundle"), on_delete=models.PROTECT, related_name="usage"
    )
    recorded_at = models.DateTimeField(_("time"))
    bytes_used = models.PositiveBigIntegerField(_("bytes"))
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    created_at = models.DateTimeField(_("received"), auto_now_add=True)

    class Meta:
        verbose_name = _("usage record")
        verbose_name_plural = _("usage records")
        ordering = ["-recorded_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["profile", "recorded_at"], name="catalog_usage_one_per_time"
            )
        ]

    def __str__(self) -> str:
        return f"{self.profile_id} {self.recorded_at:%Y-%m-%d %H:%M}: {self.bytes_used} B"


class CardBinding(models.Model):
    """A card a customer keeps on their account, with their own label ("Mum's phone")."""

    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="card_bindings",
    )
    profile = models.ForeignKey(
        EsimProfile, verbose_name=_("eSIM"), on_delete=models.CASCADE, related_name="bindings"
    )
    label = models.CharField(_("label"), max_length=60, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("bound card")
        verbose_name_plural = _("bound cards")
        ordering = ["customer", "label", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "profile"], name="catalog_binding_unique")
        ]

    def __str__(self) -> str:
        return f"{self.label or self.profile_id}"


class Device(models.Model):
    """A phone, tablet or watch model, for the eSIM compatibility checker."""

    class Support(models.TextChoices):
        YES = "yes", _("Supports eSIM")
        NO = "no", _("Does not support eSIM")
        VARIES = "varies", _("Depends on the region or carrier")

    brand = models.CharField(_("brand"), max_length=60)
    model = models.CharField(_("model"), max_length=120)
    support = models.CharField(_("eSIM support"), max_length=10, choices=Support.choices)
    notes = models.CharField(_("notes (English)"), max_length=255, blank=True)
    notes_zh_hans = models.CharField(_("notes (Simplified Chinese)"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("device")
        verbose_name_plural = _("devices")
        ordering = ["brand", "model"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "model"], name="catalog_device_unique")
        ]

    def __str__(self) -> str:
        return f"{self.brand} {self.model}"

    @property
    def display_notes(self) -> str:
        """The notes in the active language: the Chinese ones under zh-hans when staff wrote them."""
        if translation.get_language() == "zh-hans" and self.notes_zh_hans:
            return self.notes_zh_hans
        return self.notes
