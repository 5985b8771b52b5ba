from django.utils.translation import gettext_lazy as _

MSG_OUT_OF_STOCK = _("Only %(available)s of %(requested)s eSIMs are in stock for this plan.")
MSG_INVALID_TRANSITION = _("This eSIM cannot go from %(current)s to %(target)s.")


class CatalogError(Exception):
    pass


class OutOfStock(CatalogError):
    def __init__(self, *, plan_id: int, requested: int, available: int) -> None:
        self.plan_id = plan_id
        self.requested = requested
        self.available = available
        super().__init__(MSG_OUT_OF_STOCK % {"available": available, "requested": requested})


class InvalidStatusTransition(CatalogError):
    def __init__(self, *, current: str, target: str) -> None:
        self.current = current
        self.target = target
        super().__init__(MSG_INVALID_TRANSITION % {"current": current, "target": target})


MSG_CARD_UNKNOWN = _(
    "We did not sell a card with this number. Check the number on the card or in your order email."
)
MSG_CARD_ENDED = _("This card has expired or was voided; it cannot be topped up.")


class CardUnavailable(CatalogError):
    """An ICCID we did not sell, or a card that can no longer take a plan."""
