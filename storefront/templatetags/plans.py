"""How plans read on the storefront: `{{ plan.data_mb|data_allowance }}` gives "5 GB",
"500 MB" or "Unlimited"."""

from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def data_allowance(data_mb: int | None) -> str:
    if data_mb is None:
        return _("Unlimited")
    if data_mb >= 1024 and data_mb % 1024 == 0:
        return _("%(gb)d GB") % {"gb": data_mb // 1024}
    if data_mb >= 1024:
        return _("%(gb)s GB") % {"gb": f"{data_mb / 1024:.1f}"}
    return _("%(mb)d MB") % {"mb": data_mb}
