"""The device checker's search box (a GET form: the page can be cached and bookmarked)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from catalog.selectors.devices import MAX_QUERY_LENGTH

QUERY_TOO_LONG = _("Type at most %(limit)d characters, for example “iPhone 15” or “Pixel 8”.")


class DeviceSearchForm(forms.Form):
    q = forms.CharField(
        label=_("Your phone, tablet or watch"),
        required=False,
        strip=True,
        help_text=_("The brand and the model, for example iPhone 15, Pixel 8 or Galaxy S23."),
        widget=forms.TextInput(
            attrs={"type": "search", "autocomplete": "off", "placeholder": _("e.g. iPhone 15")}
        ),
    )

    def clean_q(self) -> str:
        query: str = self.cleaned_data["q"]
        if len(query) > MAX_QUERY_LENGTH:
            raise forms.ValidationError(
                QUERY_TOO_LONG % {"limit": MAX_QUERY_LENGTH}, code="max_length"
            )
        return " ".join(query.split())
