"""The customer's forms for keeping a card going: renewing it (also early: the new period is
queued after the current one), turning auto-renewal on or off, and changing its plan.

The plans offered are those the card may renew or change to (billing's `renewal_plans`), in
the currency the page shows; a plan posted that is not among them is the form's error. The
services' own refusals come back onto the forms as non-field errors.
"""

import uuid
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from djmoney.money import Money

from billing.forms import token_renew
from billing.models import OrderLine
from billing.selectors.renewals import renewal_plans
from billing.services.orders import LineRequest
from catalog.models import Bundle, EsimProfile, Plan

PLAN_LABEL = _("Plan")
RENEW_TO_LABEL = _("Renew to")
CURRENCY_LABEL = _("Currency")
WHEN_LABEL = _("When should the new plan start?")

PLAN_REQUIRED = _("Choose a plan.")
PLAN_UNAVAILABLE = _("This plan cannot be chosen for this card in %(currency)s.")
CURRENCY_NOT_OFFERED = _("This card cannot be renewed in %(value)s.")
WHEN_REQUIRED = _("Choose when the new plan starts.")
ACTION_INVALID = _("Choose to turn auto-renewal on or off.")
TOKEN_MISSING = _("This form has expired. Please choose again.")

ON, OFF = "on", "off"
NOW, AT_END = "now", "end"
WHEN_CHOICES = (
    (NOW, _("Start now")),
    (AT_END, _("Start when the current period ends")),
)


def renewal_currencies(profile: EsimProfile) -> list[str]:
    """The offered currencies in which at least one plan can renew the card."""
    return [
        code
        for code in settings.SIMDESK_CURRENCIES
        if renewal_plans(profile=profile, currency=code).exists()
    ]


def choose_currency(asked: str, offered: list[str], preferred: str) -> str:
    """`asked` if offered, else the customer's preferred currency if offered, else the first
    offered ("" when none)."""
    if asked in offered:
        return asked
    if preferred in offered:
        return preferred
    return offered[0] if offered else ""


def _request_token() -> forms.UUIDField:
    return forms.UUIDField(
        widget=forms.HiddenInput,
        initial=uuid.uuid4,
        error_messages={"required": TOKEN_MISSING, "invalid": TOKEN_MISSING},
    )


class _PlanChoiceForm(forms.Form):
    """A `plan` radio among `self.plans` (each with `price_amount`); `self.chosen` is the
    plan once the form is valid."""

    plan = forms.ChoiceField(
        widget=forms.RadioSelect,
        error_messages={"required": PLAN_REQUIRED, "invalid_choice": PLAN_REQUIRED},
    )

    def _plans_set(self, plans: list[Plan], default: Plan | None, label: Any) -> None:
        self.plans = plans
        self.chosen: Plan | None = None
        field = self.fields["plan"]
        assert isinstance(field, forms.ChoiceField)
        field.label = label
        field.choices = [(str(plan.pk), plan.display_name) for plan in plans]
        pks = [plan.pk for plan in plans]
        if default is not None and default.pk in pks:
            self.initial.setdefault("plan", str(default.pk))
        elif pks:
            self.initial.setdefault("plan", str(pks[0]))

    def clean_plan(self) -> str:
        value: str = self.cleaned_data["plan"]
        self.chosen = next((p for p in self.plans if str(p.pk) == value), None)
        return value


class RenewForm(_PlanChoiceForm):
    """Renew a card: which plan, paid in which currency. The new period starts when the
    card's last one ends."""

    currency = forms.ChoiceField(
        label=CURRENCY_LABEL,
        widget=forms.HiddenInput,
        error_messages={"required": CURRENCY_NOT_OFFERED, "invalid_choice": CURRENCY_NOT_OFFERED},
    )
    request_token = _request_token()

    def __init__(
        self,
        *args: Any,
        profile: EsimProfile,
        currency: str,
        default_plan: Plan | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.profile = profile
        self.currencies = renewal_currencies(profile)
        if self.is_bound:
            currency = str(self.data.get(self.add_prefix("currency"), ""))
        # Not `self.currency`: templates would find the bound field of that name first.
        self.currency_code = currency if currency in self.currencies else ""
        if not self.is_bound:
            self.currency_code = choose_currency(currency, self.currencies, "")
        currency_field = self.fields["currency"]
        assert isinstance(currency_field, forms.ChoiceField)
        currency_field.choices = [(code, code) for code in self.currencies]
        self.initial.setdefault("currency", self.currency_code)
        code = self.currency_code
        plans = list(renewal_plans(profile=profile, currency=code)) if code else []
        self._plans_set(plans, default_plan, RENEW_TO_LABEL)

    def line(self) -> LineRequest:
        assert self.chosen is not None
        return LineRequest(kind=OrderLine.Kind.RENEWAL, plan=self.chosen, profile=self.profile)

    def renew_token(self) -> None:
        token_renew(self, "request_token")


class PlanChangeForm(_PlanChoiceForm):
    """Change a card's plan: to which plan, starting now or when the current period ends.
    The currency is fixed by the page (that of the credit, if any)."""

    when = forms.ChoiceField(
        label=WHEN_LABEL,
        choices=WHEN_CHOICES,
        widget=forms.RadioSelect,
        initial=NOW,
        error_messages={"required": WHEN_REQUIRED, "invalid_choice": WHEN_REQUIRED},
    )
    request_token = _request_token()

    def __init__(
        self,
        *args: Any,
        profile: EsimProfile,
        currency: str,
        running: Bundle | None,
        plan: Plan,
        credit: Money | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.profile = profile
        self.currency = currency
        self.running = running
        self.running_plan = plan  # what the card runs now: not offered
        self.credit = credit  # what starting now gives back, if anything
        plans = (
            list(renewal_plans(profile=profile, currency=currency).exclude(pk=plan.pk))
            if currency
            else []
        )
        self._plans_set(plans, None, PLAN_LABEL)

    @property
    def starts_now(self) -> bool:
        return bool(self.cleaned_data.get("when") == NOW)

    def line(self) -> LineRequest:
        assert self.chosen is not None
        return LineRequest(
            kind=OrderLine.Kind.CHANGE,
            plan=self.chosen,
            profile=self.profile,
            starts_now=self.starts_now,
        )

    def renew_token(self) -> None:
        token_renew(self, "request_token")


class AutoRenewForm(forms.Form):
    """Turn auto-renewal on (to a plan, paid in a currency) or off."""

    action = forms.ChoiceField(
        choices=((ON, ON), (OFF, OFF)),
        error_messages={"required": ACTION_INVALID, "invalid_choice": ACTION_INVALID},
    )
    plan = forms.CharField(label=RENEW_TO_LABEL, required=False)
    currency = forms.CharField(label=CURRENCY_LABEL, required=False, max_length=3)

    def __init__(self, *args: Any, profile: EsimProfile, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.profile = profile
        self.chosen: Plan | None = None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("action") != ON:
            return cleaned
        currency = cleaned.get("currency") or ""
        if currency not in settings.SIMDESK_CURRENCIES:
            self.add_error(
                "currency", ValidationError(CURRENCY_NOT_OFFERED, params={"value": currency})
            )
            return cleaned
        plan_pk = str(cleaned.get("plan") or "")
        if not plan_pk.isdigit():
            self.add_error("plan", PLAN_REQUIRED)
            return cleaned
        self.chosen = (
            renewal_plans(profile=self.profile, currency=currency).filter(pk=int(plan_pk)).first()
        )
        if self.chosen is None:
            self.add_error("plan", ValidationError(PLAN_UNAVAILABLE, params={"currency": currency}))
        return cleaned
