"""How a customer installs an eSIM: the QR code of its activation code, and Apple's one-tap
install link. The activation code holds the matching ID, a secret: these are shown only to
the eSIM's owner and never logged."""

import io
from urllib.parse import quote

import segno

IOS_INSTALL_URL = "https://esimsetup.apple.com/esim_qrcode_provisioning?carddata={code}"


def ios_install_url(activation_code: str) -> str:
    """iOS 17.4+ opens the eSIM installer from this link, no camera needed."""
    return IOS_INSTALL_URL.format(code=quote(activation_code, safe=":$"))


def qr_png(activation_code: str, *, scale: int = 6) -> bytes:
    """A PNG of the QR code phones scan (error correction M, as carriers print them)."""
    buffer = io.BytesIO()
    segno.make(activation_code, error="m", micro=False).save(buffer, kind="png", scale=scale)
    return buffer.getvalue()


def qr_svg_data_uri(activation_code: str, *, scale: int = 5) -> str:
    """The QR code as an inline SVG data URI, for the eSIM page (no external request)."""
    return segno.make(activation_code, error="m", micro=False).svg_data_uri(scale=scale)
