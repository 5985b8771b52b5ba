from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy as _
from simple_history.models import to_historic

from . import selectors, services
from .admin_history import HistoryAdmin
from .admin_import import ProfileImportView
from .admin_usage import UsageImportView
from .exceptions import CatalogError
from .forms import PlanAdminForm, price_field_name
from .models import (
    PROFILE_SECRET_FIELDS,
    Bundle,
    CardBinding,
    Device,
    EsimProfile,
    ImportBatch,
    Plan,
    PlanPriceChange,
    Region,
    UsageRecord,
)
from .selectors.history import plan_price_history
from .validation import mask_secret, normalize_iccid

SECRETS_PERMISSION = "catalog.view_profile_secrets"


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "name_zh_hans", "country_count")
    search_fields = ("code", "name", "name_zh_hans")

    @admin.display(description=_("countries"))
    def country_count(self, obj: Region) -> int:
        return len(obj.countries)


class PlanPriceChangeInline(admin.TabularInline):
    model = PlanPriceChange
    extra = 0
    readonly_fields = ("currency", "old_amount", "new_amount", "changed_by", "changed_at")
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Plan)
class PlanAdmin(HistoryAdmin):
    list_display = (
        "code",
        "name",
        "kind",
        "coverage",
        "data",
        "validity_days",
        "stock_available",
        "stock_reserved",
        "stock_sold",
        "low_stock",
        "is_active",
    )
    list_filter = ("kind", "is_active", "network", "region")
    search_fields = ("code", "name", "name_zh_hans")
    list_select_related = ("region",)
    autocomplete_fields = ("region", "fits")
    readonly_fields = ("low_stock_alerted_at", "created_at", "updated_at")
    form = PlanAdminForm
    inlines = (PlanPriceChangeInline,)
    # The plan's history, then its prices' (they are edited on the plan's page).
    object_history_template = "admin/catalog/plan/object_history.html"

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = dict(extra_context or {})
        if object_id.isdigit():
            context["price_history"] = plan_price_history(plan_id=int(object_id))
        return super().history_view(request, object_id, context)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        prices = tuple(price_field_name(c) for c in settings.SIMDESK_CURRENCIES)
        main = [f for f in fieldsets[0][1]["fields"] if f not in prices]
        if "addon_mode" not in main:
            # Beside "fits": both only matter for a top-up add-on.
            at = main.index("fits") + 1 if "fits" in main else len(main)
            main.insert(at, "addon_mode")
        return [(None, {"fields": main}), (_("Prices"), {"fields": prices})]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        # Through the service, so every change is audited with who made it.
        for currency, amount in form.prices().items():
            services.plan_price_set(
                plan=form.instance,
                currency=currency,
                amount=amount,
                actor=request.user,  # type: ignore[arg-type]  # admin views need a user
            )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Plan]:
        # Stock counts come from one aggregate query, not a query per row.
        return selectors.plans_with_stock(super().get_queryset(request))

    @admin.display(description=_("coverage"))
    def coverage(self, obj: Plan) -> str:
        return obj.region.name if obj.region else str(obj.country.name)  # type: ignore[attr-defined]

    @admin.display(description=_("data"))
    def data(self, obj: Plan) -> str:
        if obj.data_mb is None:
            return str(_("Unlimited"))
        return f"{obj.data_mb / 1024:g} GB" if obj.data_mb >= 1024 else f"{obj.data_mb} MB"

    @admin.display(description=_("available"), ordering="stock_available")
    def stock_available(self, obj: Plan) -> int:
        return obj.stock_available  # type: ignore[attr-defined]

    @admin.display(description=_("reserved"), ordering="stock_reserved")
    def stock_reserved(self, obj: Plan) -> int:
        return obj.stock_reserved  # type: ignore[attr-defined]

    @admin.display(description=_("sold"), ordering="stock_sold")
    def stock_sold(self, obj: Plan) -> int:
        return obj.stock_sold  # type: ignore[attr-defined]

    @admin.display(description=_("low stock"), boolean=True)
    def low_stock(self, obj: Plan) -> bool:
        return bool(obj.low_stock_threshold) and obj.stock_available < obj.low_stock_threshold  # type: ignore[attr-defined]


@admin.register(ImportBatch)
class ImportBatchAdmin(admin.ModelAdmin):
    list_display = ("file_name", "rows", "imported_by", "imported_at")
    list_select_related = ("imported_by",)
    search_fields = ("file_name",)
    readonly_fields = ("file_name", "rows", "imported_by", "imported_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # batches come from the import page

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(EsimProfile)
class EsimProfileAdmin(HistoryAdmin):
    list_display = ("iccid", "plan", "status", "matching_id_masked", "owner", "batch", "created_at")
    list_filter = ("status", "plan", "batch")
    list_select_related = ("plan", "owner", "batch")
    search_fields = ("iccid",)
    autocomplete_fields = ("plan", "owner")
    readonly_fields = ("status", "owner", "batch", "created_at", "status_changed_at")
    actions = ("void_profiles", "release_reservations")

    def get_urls(self) -> list[URLPattern]:
        view = ProfileImportView.as_view(admin_site=self.admin_site, model_admin=self)
        return [
            path("import/", self.admin_site.admin_view(view), name="catalog_esimprofile_import"),
            *super().get_urls(),
        ]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[EsimProfile], search_term: str
    ) -> tuple[QuerySet[EsimProfile], bool]:
        # Staff paste ICCIDs the way customers type them: "8986 0123-4567 ...".
        try:
            return queryset.filter(iccid=normalize_iccid(search_term)), False
        except ValidationError:
            return super().get_search_results(request, queryset, search_term)

    def may_view_secrets(self, request: HttpRequest) -> bool:
        return request.user.has_perm(SECRETS_PERMISSION)

    @admin.display(description=_("matching ID"))
    def matching_id_masked(self, obj: EsimProfile) -> str:
        return mask_secret(obj.matching_id)

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Any:
        # An old version (History) is filled with today's secrets by simple-history: never shown.
        if self.may_view_secrets(request) and to_historic(obj) is None:
            return super().get_exclude(request, obj)
        return PROFILE_SECRET_FIELDS

    def get_list_display(self, request: HttpRequest) -> Any:
        if self.may_view_secrets(request):
            return tuple(
                f if f != "matching_id_masked" else "matching_id" for f in self.list_display
            )
        return self.list_display

    @admin.action(description=_("Void selected profiles"), permissions=["change"])
    def void_profiles(self, request: HttpRequest, queryset: QuerySet[EsimProfile]) -> None:
        self._set_status(request, queryset, EsimProfile.Status.VOID)

    @admin.action(description=_("Release selected reservations"), permissions=["change"])
    def release_reservations(self, request: HttpRequest, queryset: QuerySet[EsimProfile]) -> None:
        self._set_status(request, queryset, EsimProfile.Status.AVAILABLE)

    def _set_status(
        self, request: HttpRequest, queryset: QuerySet[EsimProfile], status: str
    ) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        try:
            services.profiles_set_status(profile_ids=ids, status=status)
        except CatalogError as error:
            self.message_user(request, str(error), messages.ERROR)
            return
        self.message_user(request, _("%(count)d profiles updated.") % {"count": len(ids)})


@admin.register(Bundle)
class BundleAdmin(admin.ModelAdmin):
    list_display = ("profile", "plan", "status", "starts_at", "ends_at", "data_used_bytes")
    list_filter = ("status",)
    list_select_related = ("profile", "plan")
    search_fields = ("profile__iccid",)
    readonly_fields = [f.name for f in Bundle._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # billing creates bundles


@admin.register(UsageRecord)
class UsageRecordAdmin(admin.ModelAdmin):
    """Usage as the network reported it: read-only; new records come from the CSV import or
    the upstream API."""

    list_display = ("profile", "bundle", "recorded_at", "bytes_used", "source", "created_at")
    list_filter = ("source",)
    list_select_related = ("profile", "bundle")
    search_fields = ("profile__iccid",)
    search_help_text = _("An ICCID.")
    date_hierarchy = "recorded_at"
    fields = ("profile", "bundle", "recorded_at", "bytes_used", "source", "created_at")
    readonly_fields = fields

    def get_urls(self) -> list[URLPattern]:
        view = UsageImportView.as_view(admin_site=self.admin_site, model_admin=self)
        return [
            path("import/", self.admin_site.admin_view(view), name="catalog_usagerecord_import"),
            *super().get_urls(),
        ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # records come from the import page or the API

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[UsageRecord], search_term: str
    ) -> tuple[QuerySet[UsageRecord], bool]:
        try:
            return queryset.filter(profile__iccid=normalize_iccid(search_term)), False
        except ValidationError:
            return super().get_search_results(request, queryset, search_term)


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    """The compatibility checker's list. It starts as catalog/data/devices.csv; what staff
    add or change here stays when the file is loaded again (unless `devices_load --update`)."""

    list_display = ("brand", "model", "support", "notes", "notes_zh_hans")
    list_display_links = ("brand", "model")
    list_filter = ("support", "brand")
    list_editable = ("support",)
    search_fields = ("brand", "model", "notes", "notes_zh_hans")
    search_help_text = _("A brand, a model or words of the notes.")
    fields = ("brand", "model", "support", "notes", "notes_zh_hans")
    list_per_page = 200


@admin.register(CardBinding)
class CardBindingAdmin(admin.ModelAdmin):
    """Cards customers keep on their accounts; customers bind and unbind them themselves."""

    list_display = ("profile", "label", "customer", "created_at")
    list_select_related = ("profile", "customer")
    search_fields = ("customer__email", "label")
    search_help_text = _("An ICCID, the customer's email or the card's label.")
    fields = ("customer", "profile", "label", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[CardBinding], search_term: str
    ) -> tuple[QuerySet[CardBinding], bool]:
        try:
            return queryset.filter(profile__iccid=normalize_iccid(search_term)), False
        except ValidationError:
            return super().get_search_results(request, queryset, search_term)
