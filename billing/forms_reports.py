"""The finance reports' inputs: a day, or a period from one day to another (both included).

The forms read the query string; with none given they take their defaults (today, or the
month to date), so a report opens filled in. Days after today are refused: the books of the
future are empty, and a typo there would read as "nothing happened".
"""

import datetime as dt
from typing import TYPE_CHECKING, Any

from django import forms
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise as StrOrPromise

FUTURE_DAY = _("This day has not come yet; choose today or an earlier day.")
RANGE_REVERSED = _("The first day must not be after the last day.")
RANGE_HALF = _("Give both the first and the last day, or neither.")

ISO_DATE = "%Y-%m-%d"


def day_field(
    label: "StrOrPromise", *, required: bool = True, help_text: "StrOrPromise" = ""
) -> forms.DateField:
    """A day typed as YYYY-MM-DD, with the browser's date picker."""
    return forms.DateField(
        label=label,
        required=required,
        help_text=help_text,
        input_formats=[ISO_DATE],
        widget=forms.DateInput(attrs={"type": "date"}, format=ISO_DATE),
    )


def not_future(day: dt.date | None, message: "StrOrPromise" = FUTURE_DAY) -> dt.date | None:
    """The day, or a validation error when it is after today in the shop's time zone."""
    if day is not None and day > timezone.localdate():
        raise forms.ValidationError(message, code="future")
    return day


def bound_or_default(form_class: type[forms.Form], query: QueryDict) -> forms.Form:
    """The form bound to the query string, or to its defaults when the query names none of
    its fields."""
    form = form_class()
    if any(name in query for name in form.fields):
        return form_class(query)
    defaults = {
        name: field.initial() if callable(field.initial) else field.initial
        for name, field in form.fields.items()
        if field.initial is not None
    }
    return form_class({name: _as_text(value) for name, value in defaults.items()})


def _as_text(value: Any) -> str:
    return value.strftime(ISO_DATE) if isinstance(value, dt.date) else str(value)


def _month_start() -> dt.date:
    return timezone.localdate().replace(day=1)


class ReportDayForm(forms.Form):
    day = day_field(_("At the end of"), help_text=_("The books as they stood at midnight."))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["day"].initial = timezone.localdate

    def clean_day(self) -> dt.date | None:
        return not_future(self.cleaned_data.get("day"))


class ReportPeriodForm(forms.Form):
    date_from = day_field(_("From"))
    date_to = day_field(_("To"), help_text=_("Both days are included."))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["date_from"].initial = _month_start
        self.fields["date_to"].initial = timezone.localdate

    def clean_date_from(self) -> dt.date | None:
        return not_future(self.cleaned_data.get("date_from"))

    def clean_date_to(self) -> dt.date | None:
        return not_future(self.cleaned_data.get("date_to"))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        date_from, date_to = cleaned.get("date_from"), cleaned.get("date_to")
        if date_from and date_to and date_from > date_to:
            raise forms.ValidationError(RANGE_REVERSED, code="reversed")
        return cleaned


class StatementPeriodForm(ReportPeriodForm):
    """An optional period for an account's statement: empty means its whole history."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("date_from", "date_to"):
            self.fields[name].required = False
            self.fields[name].initial = None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not self.errors and bool(cleaned.get("date_from")) != bool(cleaned.get("date_to")):
            raise forms.ValidationError(RANGE_HALF, code="half")
        return cleaned
