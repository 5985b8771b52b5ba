"""The destination search box and the filters of a country's or a region's plans. Both are GET
forms: a bad value is a message on the page, never an error page."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from catalog.selectors.destinations import UNLIMITED

QUERY_MAX_LENGTH = 60

SEARCH_LABEL = _("Where are you going?")
SEARCH_PLACEHOLDER = _("Japan, 日本, Europe…")
QUERY_EMPTY = _("Type a country or a region, for example Japan or Europe.")
QUERY_TOO_LONG = _("Type at most %(max)d characters: a country or a region name.")

DAYS_LABEL = _("Days")
DATA_LABEL = _("Data")
FILTER_INVALID = _("Some filters were not understood, so all plans are shown.")

DAYS_CHOICES = [
    ("", _("Any")),
    ("le7", _("Up to 7 days")),
    ("8-15", _("8–15 days")),
    ("16-30", _("16–30 days")),
    ("gt30", _("More than 30 days")),
]
DATA_CHOICES = [
    ("", _("Any")),
    ("le3", _("Up to 3 GB")),
    ("3-10", _("3–10 GB")),
    ("gt10", _("More than 10 GB")),
    (UNLIMITED, _("Unlimited")),
]


class DestinationSearchForm(forms.Form):
    q = forms.CharField(
        label=SEARCH_LABEL,
        max_length=QUERY_MAX_LENGTH,
        error_messages={"required": QUERY_EMPTY},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Formatted here, in the language of the request.
        self.fields["q"].error_messages["max_length"] = QUERY_TOO_LONG % {"max": QUERY_MAX_LENGTH}

    def clean_q(self) -> str:
        query = " ".join(str(self.cleaned_data["q"]).split())
        if not query:
            raise forms.ValidationError(QUERY_EMPTY, code="required")
        return query


class PlanFilterForm(forms.Form):
    days = forms.ChoiceField(label=DAYS_LABEL, choices=DAYS_CHOICES, required=False)
    # Not "data": a form's `data` is what was submitted.
    allowance = forms.ChoiceField(label=DATA_LABEL, choices=DATA_CHOICES, required=False)

    def filters(self) -> tuple[str, str]:
        """(days, allowance) to apply: ("", "") for any, and when a value is not one of ours."""
        if not self.is_valid():
            return "", ""
        return self.cleaned_data["days"], self.cleaned_data["allowance"]

    @property
    def is_filtering(self) -> bool:
        return any(self.filters())
