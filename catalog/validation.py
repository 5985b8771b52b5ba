"""Validation of card identifiers and activation codes, shared by admin, CSV import and storefront.

Pure Python on purpose: the CSV import checks 100,000 rows per file, so every function here is a
few string operations and precompiled regexes, with no Django form machinery per call. Failures
raise Django's ValidationError with a `code`, so forms and the import report can tell them apart.

The matching ID of an activation code is a secret (whoever has it can download the profile):
no error message or repr built here contains it. Only `ActivationCode.code` (and str()) does,
because that is the payload of the QR code.
"""

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

ICCID_PREFIX = "89"  # ITU-T E.118: the telecom industry identifier.
ICCID_MIN_LENGTH = 18
ICCID_MAX_LENGTH = 22
EID_LENGTH = 32
SMDP_ADDRESS_MAX_LENGTH = 253  # RFC 1035 limit for a host name in text form.

ICCID_EMPTY = _("Enter the card number (ICCID).")
ICCID_NOT_DIGITS = _("The card number (ICCID) may contain only digits, spaces and dashes.")
ICCID_WRONG_PREFIX = _("A card number (ICCID) starts with 89.")
ICCID_WRONG_LENGTH = _(
    "A card number (ICCID) has %(min)d to %(max)d digits; this one has %(length)d."
)
# A warning, not an error: some issuers overwrite the check digit, so such cards exist.
LUHN_WARNING = _(
    "The last digit of this card number does not match its check digit. Did you mistype it?"
)

EID_EMPTY = _("Enter the EID.")
EID_NOT_DIGITS = _("The EID may contain only digits and spaces.")
EID_WRONG_LENGTH = _("An EID has %(expected)d digits; this one has %(length)d.")
EID_WRONG_CHECKSUM = _("The check digits of this EID do not match. Did you mistype a digit?")

ACTIVATION_CODE_EMPTY = _("Enter the activation code.")
ACTIVATION_CODE_FORMAT = _(
    "This is not an activation code. It looks like LPA:1$smdp.example.com$MATCHING-ID."
)
ACTIVATION_CODE_VERSION = _(
    "This activation code has an unsupported format: it must start with LPA:1$."
)
ACTIVATION_CODE_TOO_MANY_PARTS = _("This activation code has too many parts separated by $.")
SMDP_ADDRESS_EMPTY = _("Enter the SM-DP+ address.")
SMDP_ADDRESS_SCHEME = _("Enter the SM-DP+ address without https:// (for example smdp.example.com).")
SMDP_ADDRESS_PORT = _("Enter the SM-DP+ address without a port number.")
SMDP_ADDRESS_IP = _("The SM-DP+ address must be a host name, not an IP address.")
SMDP_ADDRESS_INVALID = _("Enter a valid SM-DP+ host name, for example smdp.example.com.")
MATCHING_ID_INVALID = _("The matching ID may contain only letters A-Z, digits and hyphens.")
OID_INVALID = _("The SM-DP+ OID must be numbers separated by dots, for example 1.3.6.1.4.1.31746.")
CONFIRMATION_FLAG_INVALID = _(
    "The last part of the activation code must be 1 (confirmation code required) or left out."
)

# \s also removes non-breaking spaces that come with numbers copied from web pages and PDFs.
_ICCID_SEPARATORS = re.compile(r"[\s\-]+")
_WHITESPACE = re.compile(r"\s+")
# RFC 1123 labels, at least two of them; the length limit is checked separately.
_HOST_NAME = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)
_IPV4 = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")
_MATCHING_ID = re.compile(r"[0-9A-Za-z-]*")
_OID = re.compile(r"[0-9]+(?:\.[0-9]+)+")
# Luhn doubles every second digit from the right; a doubled digit above 9 counts its digit sum.
_LUHN_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)
_MASK = "\u2022" * 8  # Fixed width, so the mask does not reveal the secret's length.


def _is_ascii_digits(value: str) -> bool:
    # str.isdigit alone accepts other scripts' digits (e.g. full-width "８"), which int() reads.
    return value.isascii() and value.isdigit()


def _luhn_sum(digits: str, *, double_last: bool) -> int:
    first_doubled = -1 if double_last else -2
    first_plain = -2 if double_last else -1
    return sum(int(d) for d in digits[first_plain::-2]) + sum(
        _LUHN_DOUBLED[int(d)] for d in digits[first_doubled::-2]
    )


def luhn_valid(digits: str) -> bool:
    """True when the last digit is the Luhn check digit of the others; False for non-digits."""
    if not _is_ascii_digits(digits):
        return False
    return _luhn_sum(digits, double_last=False) % 10 == 0


def luhn_check_digit(payload: str) -> str:
    """The digit to append to `payload` so that the result passes the Luhn check."""
    if not _is_ascii_digits(payload):
        raise ValueError("The Luhn payload must be a non-empty string of digits.")
    return str(-_luhn_sum(payload, double_last=True) % 10)


@dataclass(frozen=True, slots=True)
class IccidCheck:
    iccid: str
    luhn_ok: bool  # False: accept the card, but warn with LUHN_WARNING.


def normalize_iccid(raw: str) -> str:
    """The ICCID without spaces and dashes; ValidationError when it cannot be one."""
    iccid = _ICCID_SEPARATORS.sub("", raw)
    if not iccid:
        raise ValidationError(ICCID_EMPTY, code="empty")
    if not _is_ascii_digits(iccid):
        raise ValidationError(ICCID_NOT_DIGITS, code="not_digits")
    if not iccid.startswith(ICCID_PREFIX):
        raise ValidationError(ICCID_WRONG_PREFIX, code="prefix")
    if not ICCID_MIN_LENGTH <= len(iccid) <= ICCID_MAX_LENGTH:
        raise ValidationError(
            ICCID_WRONG_LENGTH,
            code="length",
            params={"min": ICCID_MIN_LENGTH, "max": ICCID_MAX_LENGTH, "length": len(iccid)},
        )
    return iccid


def check_iccid(raw: str) -> IccidCheck:
    iccid = normalize_iccid(raw)
    return IccidCheck(iccid=iccid, luhn_ok=luhn_valid(iccid))


def eid_check_digits(payload: str) -> str:
    """The two digits to append to a 30-digit payload so that the EID mod 97 is 1 (ISO 7064)."""
    if not _is_ascii_digits(payload) or len(payload) != EID_LENGTH - 2:
        raise ValueError(f"The EID payload must be {EID_LENGTH - 2} digits.")
    return f"{98 - int(payload) * 100 % 97:02d}"


def normalize_eid(raw: str) -> str:
    """The EID without spaces; ValidationError when it cannot be one."""
    eid = _WHITESPACE.sub("", raw)
    if not eid:
        raise ValidationError(EID_EMPTY, code="empty")
    if not _is_ascii_digits(eid):
        raise ValidationError(EID_NOT_DIGITS, code="not_digits")
    if len(eid) != EID_LENGTH:
        raise ValidationError(
            EID_WRONG_LENGTH, code="length", params={"expected": EID_LENGTH, "length": len(eid)}
        )
    if int(eid) % 97 != 1:
        raise ValidationError(EID_WRONG_CHECKSUM, code="checksum")
    return eid


def mask_secret(value: str, visible: int = 4) -> str:
    """'••••••••1234' for admin lists; values too short to hide at least as much as they show
    are fully masked. An empty value stays empty: "no secret" is not a secret."""
    if not value:
        return ""
    if visible <= 0 or len(value) < 2 * visible:
        return _MASK
    return _MASK + value[-visible:]


def _validate_smdp_address(host: str) -> None:
    # RFC 3696: the top-level label is never all digits, which also rules out "10.0.0.1".
    if (
        len(host) <= SMDP_ADDRESS_MAX_LENGTH
        and _HOST_NAME.fullmatch(host)
        and not host.rpartition(".")[2].isdigit()
    ):
        return
    # The slow path only runs for invalid input: find the most helpful message.
    if not host:
        raise ValidationError(SMDP_ADDRESS_EMPTY, code="smdp_address")
    if "://" in host:
        raise ValidationError(SMDP_ADDRESS_SCHEME, code="smdp_address")
    if host.startswith("[") or host.count(":") > 1 or _IPV4.fullmatch(host):
        raise ValidationError(SMDP_ADDRESS_IP, code="smdp_address")
    if ":" in host:
        raise ValidationError(SMDP_ADDRESS_PORT, code="smdp_address")
    raise ValidationError(SMDP_ADDRESS_INVALID, code="smdp_address")


@dataclass(frozen=True, slots=True, eq=False)
class ActivationCode:
    """A GSMA SGP.22 activation code; valid by construction (ValidationError otherwise)."""

    smdp_address: str
    matching_id: str
    oid: str = ""
    confirmation_code_required: bool = False

    def __post_init__(self) -> None:
        _validate_smdp_address(self.smdp_address)
        if not _MATCHING_ID.fullmatch(self.matching_id):
            raise ValidationError(MATCHING_ID_INVALID, code="matching_id")
        if self.oid and not _OID.fullmatch(self.oid):
            raise ValidationError(OID_INVALID, code="oid")

    @property
    def code(self) -> str:
        """The canonical string for the QR code; it contains the secret matching ID."""
        parts = ["LPA:1", self.smdp_address, self.matching_id]
        if self.oid or self.confirmation_code_required:
            parts.append(self.oid)
        if self.confirmation_code_required:
            parts.append("1")
        return "$".join(parts)

    def __str__(self) -> str:
        return self.code

    def __repr__(self) -> str:
        return (
            f"ActivationCode(smdp_address={self.smdp_address!r}, "
            f"matching_id={mask_secret(self.matching_id)!r}, oid={self.oid!r}, "
            f"confirmation_code_required={self.confirmation_code_required!r})"
        )

    def _key(self) -> tuple[str, str, str, bool]:
        # Host names are case-insensitive (RFC 4343); the matching ID is not.
        return (
            self.smdp_address.lower(),
            self.matching_id,
            self.oid,
            self.confirmation_code_required,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ActivationCode):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


def parse_activation_code(raw: str) -> ActivationCode:
    """Parse `LPA:1$host$matching-id[$oid[$1]]`; the `LPA:` prefix may be left out."""
    text = raw.strip()
    if not text:
        raise ValidationError(ACTIVATION_CODE_EMPTY, code="empty")
    if text[:4].upper() == "LPA:":
        text = text[4:]
    fields = text.split("$")
    if len(fields) < 3:
        raise ValidationError(ACTIVATION_CODE_FORMAT, code="format")
    if fields[0] != "1":
        raise ValidationError(ACTIVATION_CODE_VERSION, code="format")
    if len(fields) > 5:
        raise ValidationError(ACTIVATION_CODE_TOO_MANY_PARTS, code="format")
    # SGP.22 has only "1" for the flag; when no confirmation code is needed the field is left out.
    if len(fields) == 5 and fields[4] != "1":
        raise ValidationError(CONFIRMATION_FLAG_INVALID, code="confirmation_flag")
    return ActivationCode(
        smdp_address=fields[1],
        matching_id=fields[2],
        oid=fields[3] if len(fields) > 3 else "",
        confirmation_code_required=len(fields) == 5,
    )


def build_activation_code(
    smdp_address: str,
    matching_id: str,
    oid: str = "",
    confirmation_code_required: bool = False,
) -> ActivationCode:
    """An activation code from separate parts, e.g. CSV columns; surrounding spaces are ignored."""
    return ActivationCode(
        smdp_address=smdp_address.strip(),
        matching_id=matching_id.strip(),
        oid=oid.strip(),
        confirmation_code_required=confirmation_code_required,
    )
