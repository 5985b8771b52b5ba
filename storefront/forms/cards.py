"""The customer's forms for cards: looking up a card by its number (ICCID), buying an add-on
or a renewal for it, keeping cards on the account, and asking for an eSIM's refund.

A card number may be typed with spaces and dashes; a wrong check digit is only a hint
("did you mistype?"), the card is still looked up. The services' refusals (an unknown or
expired card) become the forms' errors.
"""

import uuid
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.models import User
from billing.models import Order, OrderLine
from billing.selectors.esims import card_recent_purchase
from billing.services.orders import LineRequest
from catalog.exceptions import CardUnavailable
from catalog.models import EsimProfile, Plan
from catalog.selectors import card_bindings, card_get
from catalog.validation import LUHN_WARNING, check_iccid

ICCID_LABEL = _("Card number (ICCID)")
ICCID_HELP = _("The 19 or 20 digits starting with 89, on the card or in your order email.")
BOUND_CARD_LABEL = _("Or one of your cards")
LABEL_LABEL = _("Label")
LABEL_HELP = _("For example: Mum's phone.")
REASON_LABEL = _("Why do you want a refund? (optional)")
CONFIRM_LABEL = _("Yes, buy it again")

CARD_REQUIRED = _("Enter the card number (ICCID) or choose one of your cards.")
OPTION_REQUIRED = _("Choose an add-on or a renewal.")
OPTION_UNKNOWN = _("This option is not available for this card.")
CURRENCY_NOT_OFFERED = _("Payments in %(currency)s are not offered.")
TOKEN_MISSING = _("This form has expired. Please choose again.")

ADDON = OrderLine.Kind.ADDON
RENEWAL = OrderLine.Kind.RENEWAL
REASON_MAX_LENGTH = 1000


def option_value(kind: str, plan: Plan) -> str:
    """ "addon-12" or "renewal-3": what a choice on the top-up page posts."""
    return f"{kind}-{plan.pk}"


def page_currency(asked: str, user: Any) -> str:
    """The currency asked for when offered, else the customer's preferred one, else the
    default."""
    offered = settings.SIMDESK_CURRENCIES
    if asked in offered:
        return asked
    preferred = getattr(user, "preferred_currency", "")
    return preferred if preferred in offered else settings.SIMDESK_DEFAULT_CURRENCY


class IccidField(forms.CharField):
    """A card number, normalized (spaces and dashes removed); remembers a Luhn warning."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", ICCID_LABEL)
        kwargs.setdefault("max_length", 40)
        kwargs.setdefault(
            "widget",
            forms.TextInput(
                attrs={"inputmode": "numeric", "autocomplete": "off", "spellcheck": "false"}
            ),
        )
        super().__init__(**kwargs)


def _iccid_clean(form: forms.Form, raw: str) -> str:
    check = check_iccid(raw)  # ValidationError for what cannot be an ICCID
    form.luhn_warning = None if check.luhn_ok else LUHN_WARNING  # type: ignore[attr-defined]
    return check.iccid


class CardLookupForm(forms.Form):
    """The top-up page's search: a typed number, or one of the customer's bound cards."""

    iccid = IccidField(required=False, help_text=ICCID_HELP)
    card = forms.ChoiceField(label=BOUND_CARD_LABEL, required=False)

    def __init__(self, *args: Any, customer: User | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.luhn_warning = None
        self.profile: EsimProfile | None = None
        self.bindings = list(card_bindings(customer=customer)) if customer is not None else []
        card = self.fields["card"]
        assert isinstance(card, forms.ChoiceField)
        card.choices = [
            ("", "—"),
            *(
                (b.profile.iccid, f"{b.label or b.profile.plan.display_name} · {b.profile.iccid}")
                for b in self.bindings
            ),
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        raw = cleaned.get("iccid") or cleaned.get("card") or ""
        if not raw:
            if "iccid" not in self.errors:
                self.add_error("iccid", CARD_REQUIRED)
            return cleaned
        try:
            iccid = _iccid_clean(self, raw)
        except ValidationError as error:
            self.add_error("iccid", error)
            return cleaned
        cleaned["number"] = iccid
        try:
            self.profile = card_get(iccid=iccid)
        except CardUnavailable as unavailable:
            self.add_error("iccid", str(unavailable))
        return cleaned


class CardTopupBuyForm(forms.Form):
    """Buy one add-on (or the renewal) for a card. `confirm` is asked for when the customer
    bought the same plan for this card a few minutes ago."""

    iccid = IccidField(widget=forms.HiddenInput)
    option = forms.CharField(error_messages={"required": OPTION_REQUIRED})
    currency = forms.CharField(max_length=3, widget=forms.HiddenInput)
    confirm = forms.BooleanField(label=CONFIRM_LABEL, required=False)
    request_token = forms.UUIDField(
        widget=forms.HiddenInput,
        initial=uuid.uuid4,
        error_messages={"required": TOKEN_MISSING, "invalid": TOKEN_MISSING},
    )

    def __init__(self, *args: Any, customer: User | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.customer = customer
        self.luhn_warning = None
        self.profile: EsimProfile | None = None
        self.plan: Plan | None = None
        self.kind = ""
        self.repeat: Order | None = None
        self.repeat_question = ""

    def clean_iccid(self) -> str:
        iccid = _iccid_clean(self, self.cleaned_data["iccid"])
        try:
            self.profile = card_get(iccid=iccid)
        except CardUnavailable as unavailable:
            raise ValidationError(str(unavailable)) from unavailable
        return iccid

    def clean_currency(self) -> str:
        currency: str = self.cleaned_data["currency"]
        if currency not in settings.SIMDESK_CURRENCIES:
            raise ValidationError(CURRENCY_NOT_OFFERED, params={"currency": currency})
        return currency

    def clean_option(self) -> str:
        option: str = self.cleaned_data["option"]
        kind, _sep, pk = option.partition("-")
        plan = (
            Plan.objects.select_related("region").filter(pk=int(pk)).first()
            if kind in (ADDON, RENEWAL) and pk.isdigit()
            else None
        )
        if plan is None:
            raise ValidationError(OPTION_UNKNOWN)
        self.kind, self.plan = kind, plan
        return option

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors or self.customer is None or self.profile is None or self.plan is None:
            return cleaned
        self.repeat = card_recent_purchase(
            customer=self.customer, plan=self.plan, profile=self.profile
        )
        # The same page submitted twice is no repeat: placing it finds the first order.
        same_page = self.repeat is not None and self.repeat.request_token == cleaned.get(
            "request_token"
        )
        if self.repeat is not None and not same_page and not cleaned.get("confirm"):
            minutes = max(1, int((timezone.now() - self.repeat.created_at).total_seconds() // 60))
            self.repeat_question = ngettext(
                "You bought %(plan)s for this card %(minutes)d minute ago. Buy it again?",
                "You bought %(plan)s for this card %(minutes)d minutes ago. Buy it again?",
                minutes,
            ) % {"plan": self.plan.display_name, "minutes": minutes}
            self.add_error("confirm", self.repeat_question)
        return cleaned

    def line(self) -> LineRequest:
        assert self.plan is not None and self.profile is not None
        return LineRequest(kind=self.kind, plan=self.plan, profile=self.profile)


class CardBindForm(forms.Form):
    iccid = IccidField(help_text=ICCID_HELP)
    label = forms.CharField(label=LABEL_LABEL, max_length=60, required=False, help_text=LABEL_HELP)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.luhn_warning = None

    def clean_iccid(self) -> str:
        return _iccid_clean(self, self.cleaned_data["iccid"])


class RefundRequestForm(forms.Form):
    reason = forms.CharField(
        label=REASON_LABEL,
        required=False,
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
