from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .models import Plan


def price_field_name(currency: str) -> str:
    return f"price_{currency}"


def _price_field(currency: str) -> forms.DecimalField:
    return forms.DecimalField(
        label=_("Price in %(currency)s") % {"currency": currency},
        required=False,
        min_value=Decimal("0.01"),
        max_digits=12,
        decimal_places=2,
        help_text=_("Leave empty to not offer the plan in this currency."),
    )


class _PlanAdminFormBase(forms.ModelForm):
    class Meta:
        model = Plan
        fields = (
            "code", "name", "name_zh_hans", "kind", "country", "region", "data_mb",
            "daily_cap_mb", "validity_days", "network", "hotspot", "activation_policy",
            "renewable", "fits", "addon_mode", "wholesale_cost", "low_stock_threshold", "is_active",
        )  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            for price in self.instance.prices.all():
                name = price_field_name(price.price.currency.code)
                if name in self.fields:
                    self.fields[name].initial = price.price.amount

    def prices(self) -> dict[str, Decimal | None]:
        return {
            currency: self.cleaned_data.get(price_field_name(currency))
            for currency in settings.SIMDESK_CURRENCIES
        }


# The currencies come from settings, so the price fields are declared when the class is made
# (the admin lays out declared fields only).
PlanAdminForm = type(
    "PlanAdminForm",
    (_PlanAdminFormBase,),
    {price_field_name(c): _price_field(c) for c in settings.SIMDESK_CURRENCIES},
)


USAGE_MAX_UPLOAD_MB = 20
USAGE_FILE_HELP = _(
    "UTF-8 CSV with the header iccid,time,bytes. Time in ISO 8601 with a time zone (for "
    "example 2026-05-01T14:30:00Z); bytes a whole number. A file with any bad line is "
    "refused whole; lines already imported are counted once."
)
USAGE_UPLOAD_TOO_LARGE = _("The file is larger than %(max)d MB. Split it into smaller files.")


class UsageImportForm(forms.Form):
    file = forms.FileField(label=_("CSV file"), help_text=USAGE_FILE_HELP)

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if (upload.size or 0) > USAGE_MAX_UPLOAD_MB * 1024 * 1024:
            raise forms.ValidationError(
                USAGE_UPLOAD_TOO_LARGE, code="too_large", params={"max": USAGE_MAX_UPLOAD_MB}
            )
        return upload
