from django import forms
from django.conf import settings
from django.utils.translation import get_language_info
from django.utils.translation import gettext_lazy as _

from .currency import currency_choices


class LanguageForm(forms.Form):
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    next = forms.CharField(required=False, widget=forms.HiddenInput)


class CurrencyForm(forms.Form):
    currency = forms.ChoiceField(label=_("Currency"), choices=currency_choices)
    next = forms.CharField(required=False, widget=forms.HiddenInput)


def language_choices() -> list[tuple[str, str]]:
    """Each language named in itself ("English", "简体中文"), so anyone can find their own."""
    return [(code, get_language_info(code)["name_local"]) for code, _name in settings.LANGUAGES]


class AccountSettingsForm(forms.Form):
    """The display preferences kept on the profile: the site's language and the prices' currency."""

    language = forms.ChoiceField(
        label=_("Language"),
        choices=language_choices,
        help_text=_("The language of the site and of the emails we send you."),
    )
    currency = forms.ChoiceField(
        label=_("Currency"),
        choices=currency_choices,
        help_text=_("Prices are shown in this currency."),
    )
