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
