"""Emails to customers and staff, each rendered in the reader's language.

A template name `billing/email/<name>` means `<name>_subject.txt`, `<name>.txt` and, when it
exists, `<name>.html` with inline images attached by content id (the QR code of a delivery).
"""

from collections.abc import Iterable
from email.mime.image import MIMEImage

from django.core.mail import EmailMultiAlternatives
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import translation

from accounts.models import User


def email_send(
    *,
    to: User,
    template: str,
    context: dict[str, object],
    inline_images: Iterable[tuple[str, bytes]] = (),
) -> None:
    """Render `template` in `to`'s language and send it; images are (content id, PNG bytes)."""
    context = {**context, "recipient": to}
    with translation.override(to.preferred_language):
        subject = render_to_string(f"{template}_subject.txt", context)
        body = render_to_string(f"{template}.txt", context)
        try:
            html = render_to_string(f"{template}.html", context)
        except TemplateDoesNotExist:
            html = None
    message = EmailMultiAlternatives(" ".join(subject.split()), body, None, [to.email])
    if html is not None:
        message.attach_alternative(html, "text/html")
        # multipart/related, so mail clients show the images inside the HTML part.
        message.mixed_subtype = "related"  # type: ignore[attr-defined]  # missing from the stubs
        for content_id, png in inline_images:
            image = MIMEImage(png, "png")
            image.add_header("Content-ID", f"<{content_id}>")
            image.add_header("Content-Disposition", "inline", filename=f"{content_id}.png")
            message.attach(image)
    message.send()
