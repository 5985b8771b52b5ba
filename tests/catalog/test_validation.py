import dataclasses

import pytest
from django.core.exceptions import ValidationError

from catalog.validation import (
    LUHN_WARNING,
    ActivationCode,
    IccidCheck,
    build_activation_code,
    check_iccid,
    eid_check_digits,
    luhn_check_digit,
    luhn_valid,
    mask_secret,
    normalize_eid,
    normalize_iccid,
    parse_activation_code,
)

# Check digits computed independently of the module (see _luhn_ok and _eid_with_check_digits).
ICCID_19 = "8986012345678901239"
ICCID_20 = "89860123456789012348"
EID = "89049032000000000000000000123450"
SECRET = "K7Q2-SECRET-9XZ4"  # a matching ID that must never show up in messages


def _luhn_ok(digits: str) -> bool:
    """A plain textbook Luhn, to check the module against."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char) * (2 if position % 2 else 1)
        total += digit - 9 if digit > 9 else digit
    return total % 10 == 0


def _eid_with_check_digits(payload: str) -> str:
    """Brute force the two check digits, to check the module against.

    ISO 7064 check digits run from 02 to 98, which makes them unique (01 would also do for 98).
    """
    return next(payload + f"{n:02d}" for n in range(2, 99) if int(payload + f"{n:02d}") % 97 == 1)


def _with_wrong_last_digit(number: str) -> str:
    return number[:-1] + str((int(number[-1]) + 1) % 10)


def _code(exc_info: pytest.ExceptionInfo[ValidationError]) -> str | None:
    return exc_info.value.code


# ---------------------------------------------------------------- Luhn


@pytest.mark.parametrize(
    ("digits", "expected"),
    [
        ("79927398713", True),  # the textbook example
        ("79927398710", False),
        ("0", True),
        (ICCID_19, True),
        (ICCID_20, True),
        (_with_wrong_last_digit(ICCID_19), False),
        ("", False),
        ("8986 0123", False),
        ("８９", False),  # full-width digits are not digits for us
    ],
)
def test_luhn_valid(digits, expected):
    assert luhn_valid(digits) is expected


@pytest.mark.parametrize(
    ("payload", "digit"),
    [("7992739871", "3"), (ICCID_19[:-1], ICCID_19[-1]), (ICCID_20[:-1], ICCID_20[-1]), ("0", "0")],
)
def test_luhn_check_digit(payload, digit):
    assert luhn_check_digit(payload) == digit


@pytest.mark.parametrize("length", range(1, 25))
def test_luhn_check_digit_agrees_with_textbook_luhn(length):
    payload = ("89860123456789012345678901" * 2)[:length]
    number = payload + luhn_check_digit(payload)
    assert _luhn_ok(number)
    assert luhn_valid(number)


@pytest.mark.parametrize("payload", ["", "12a", "１２"])
def test_luhn_check_digit_rejects_non_digits(payload):
    with pytest.raises(ValueError, match="digits"):
        luhn_check_digit(payload)


# ---------------------------------------------------------------- ICCID


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (ICCID_19, ICCID_19),
        (ICCID_20, ICCID_20),
        ("8986 0123 4567 8901 239", ICCID_19),
        ("8986-0123-4567-8901-239", ICCID_19),
        ("8986 0123-4567 8901 239", ICCID_19),
        ("  8986 0123 4567 8901 2348\n", ICCID_20),
        ("8986\u00a00123\u00a04567\u00a08901\u00a0239", ICCID_19),  # copied from a web page
        ("898600000000000001", "898600000000000001"),  # 18 digits
        ("8986012345678901234560", "8986012345678901234560"),  # 22 digits
    ],
)
def test_normalize_iccid_accepts(raw, expected):
    assert normalize_iccid(raw) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "empty"),
        ("   ", "empty"),
        (" - - ", "empty"),
        ("8986012345678901A39", "not_digits"),
        ("ICCID 8986012345678901239", "not_digits"),
        ("8986.0123.4567.8901.239", "not_digits"),
        ("８９８６０１２３４５６７８９０１２３９", "not_digits"),  # full-width digits
        ("1986012345678901239", "prefix"),
        ("9886012345678901239", "prefix"),
        ("0089860123456789012", "prefix"),
        ("89860000000000000", "length"),  # 17 digits
        ("89860123456789012345678", "length"),  # 23 digits
        ("89", "length"),
    ],
)
def test_normalize_iccid_rejects(raw, code):
    with pytest.raises(ValidationError) as exc_info:
        normalize_iccid(raw)
    assert _code(exc_info) == code
    assert exc_info.value.messages[0]  # a readable message, params filled in


def test_iccid_length_message_names_the_length():
    with pytest.raises(ValidationError) as exc_info:
        normalize_iccid("8986 0000 0000 0000 0")
    assert exc_info.value.messages == [
        "A card number (ICCID) has 18 to 22 digits; this one has 17."
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (ICCID_19, IccidCheck(ICCID_19, luhn_ok=True)),
        (ICCID_20, IccidCheck(ICCID_20, luhn_ok=True)),
        ("8986 0123 4567 8901 2348", IccidCheck(ICCID_20, luhn_ok=True)),
        # A wrong check digit is accepted: some issuers overwrite it.
        (_with_wrong_last_digit(ICCID_19), IccidCheck(_with_wrong_last_digit(ICCID_19), False)),
        (_with_wrong_last_digit(ICCID_20), IccidCheck(_with_wrong_last_digit(ICCID_20), False)),
    ],
)
def test_check_iccid(raw, expected):
    assert check_iccid(raw) == expected


def test_check_iccid_rejects_what_normalize_rejects():
    with pytest.raises(ValidationError) as exc_info:
        check_iccid("1234")
    assert _code(exc_info) == "prefix"


def test_luhn_warning_asks_whether_the_customer_mistyped():
    assert "Did you mistype it?" in str(LUHN_WARNING)


# ---------------------------------------------------------------- EID


def test_eid_literal_agrees_with_brute_force():
    assert _eid_with_check_digits(EID[:30]) == EID
    assert int(EID) % 97 == 1


@pytest.mark.parametrize(
    "payload",
    [
        "890490320000000000000000000000",
        "890490320000000000000000001234",
        "890490321234567890123456789012",
        "999999999999999999999999999999",
        "000000000000000000000000000000",
    ],
)
def test_eid_check_digits(payload):
    assert payload + eid_check_digits(payload) == _eid_with_check_digits(payload)


@pytest.mark.parametrize("payload", ["", "8904903200000000000000000000", "89049032" * 4, "x" * 30])
def test_eid_check_digits_rejects_bad_payloads(payload):
    with pytest.raises(ValueError, match="30 digits"):
        eid_check_digits(payload)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (EID, EID),
        ("8904 9032 0000 0000 0000 0000 0012 3450", EID),
        (f"  {EID}\t", EID),
        (_eid_with_check_digits("890490321234567890123456789012"), None),
    ],
)
def test_normalize_eid_accepts(raw, expected):
    assert normalize_eid(raw) == (expected or raw)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "empty"),
        ("  ", "empty"),
        (EID[:-1], "length"),
        (EID + "0", "length"),
        (EID[:16], "length"),
        (EID[:-1] + "1", "checksum"),
        (EID[:-2] + EID[-1] + EID[-2], "checksum"),  # swapped check digits
        ("1" + EID[1:], "checksum"),
        (EID[:10] + "A" + EID[11:], "not_digits"),
        ("8904-9032-0000-0000-0000-0000-0012-3450", "not_digits"),  # EIDs only allow spaces
        ("８" + EID[1:], "not_digits"),
    ],
)
def test_normalize_eid_rejects(raw, code):
    with pytest.raises(ValidationError) as exc_info:
        normalize_eid(raw)
    assert _code(exc_info) == code
    assert exc_info.value.messages[0]


# ---------------------------------------------------------------- activation codes

HOST = "smdp.example.com"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (f"LPA:1${HOST}$ABC-123", ActivationCode(HOST, "ABC-123")),
        (f"1${HOST}$ABC-123", ActivationCode(HOST, "ABC-123")),
        (f"lpa:1${HOST}$ABC-123", ActivationCode(HOST, "ABC-123")),
        (f"  LPA:1${HOST}$ABC-123 \n", ActivationCode(HOST, "ABC-123")),
        (f"LPA:1${HOST}$", ActivationCode(HOST, "")),
        (f"LPA:1${HOST}$$1.3.6.1.4.1.31746", ActivationCode(HOST, "", "1.3.6.1.4.1.31746")),
        (
            f"LPA:1${HOST}$ABC-123$1.3.6.1.4.1.31746",
            ActivationCode(HOST, "ABC-123", "1.3.6.1.4.1.31746"),
        ),
        (
            f"LPA:1${HOST}$ABC-123$1.3.6.1.4.1.31746$1",
            ActivationCode(HOST, "ABC-123", "1.3.6.1.4.1.31746", confirmation_code_required=True),
        ),
        (f"LPA:1${HOST}$ABC-123$$1", ActivationCode(HOST, "ABC-123", "", True)),
        (f"LPA:1${HOST}$ABC-123$", ActivationCode(HOST, "ABC-123")),
        ("LPA:1$rsp.truphone.com$QRF-BETTERROAMING-PMRDGIR2EARDEIT5", None),
        ("LPA:1$SMDP.Example.COM$abcDEF0123456789", None),
        ("LPA:1$a.b$X", None),
        ("LPA:1$xn--fiqs8s.example.cn$X", None),  # punycode
        ("LPA:1$smdp-1.eu-west.example-operator.com$X", None),
        ("LPA:1$1smdp.example.com$X", None),  # RFC 1123 allows a leading digit
        (f"LPA:1${'a' * 63}.com$X", None),
        (f"LPA:1${'.'.join(['a' * 63] * 3 + ['b' * 61])}$X", None),  # 253 characters
    ],
)
def test_parse_activation_code_accepts(raw, expected):
    parsed = parse_activation_code(raw)
    if expected is not None:
        assert parsed == expected
        assert parsed.smdp_address == expected.smdp_address
        assert parsed.matching_id == expected.matching_id
        assert parsed.oid == expected.oid
        assert parsed.confirmation_code_required is expected.confirmation_code_required


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("LPA:", "format"),
        ("LPA:1", "format"),
        (f"LPA:1${HOST}", "format"),
        (f"{HOST}$ABC-123", "format"),
        ("https://example.com/esim", "format"),
        (f"LPA:2${HOST}$ABC-123", "format"),
        (f"LPA:${HOST}$ABC-123", "format"),
        (f"LPA: 1${HOST}$ABC-123", "format"),
        (f"LPA:1${HOST}$ABC-123$1.3.6$1$1", "format"),
        (f"LPA:1${HOST}$ABC-123$$$", "format"),
        ("LPA:1$$ABC-123", "smdp_address"),
        ("LPA:1$https://smdp.example.com$ABC-123", "smdp_address"),
        ("LPA:1$http://smdp.example.com$ABC-123", "smdp_address"),
        ("LPA:1$smdp.example.com:443$ABC-123", "smdp_address"),
        ("LPA:1$smdp.example.com/path$ABC-123", "smdp_address"),
        ("LPA:1$192.0.2.10$ABC-123", "smdp_address"),
        ("LPA:1$[2001:db8::1]$ABC-123", "smdp_address"),
        ("LPA:1$2001:db8::1$ABC-123", "smdp_address"),
        ("LPA:1$example.123$ABC-123", "smdp_address"),  # numeric top-level label
        ("LPA:1$localhost$ABC-123", "smdp_address"),
        ("LPA:1$-smdp.example.com$ABC-123", "smdp_address"),
        ("LPA:1$smdp-.example.com$ABC-123", "smdp_address"),
        ("LPA:1$smdp.-example.com$ABC-123", "smdp_address"),
        ("LPA:1$smdp..example.com$ABC-123", "smdp_address"),
        ("LPA:1$.smdp.example.com$ABC-123", "smdp_address"),
        ("LPA:1$smdp.example.com.$ABC-123", "smdp_address"),
        ("LPA:1$smdp_1.example.com$ABC-123", "smdp_address"),
        ("LPA:1$smdp example.com$ABC-123", "smdp_address"),
        ("LPA:1$ smdp.example.com$ABC-123", "smdp_address"),
        ("LPA:1$smdp.bücher.de$ABC-123", "smdp_address"),  # IDNs must be given as punycode
        (f"LPA:1${'a' * 64}.com$X", "smdp_address"),  # label over 63 characters
        (f"LPA:1${'.'.join(['a' * 63] * 3 + ['b' * 62])}$X", "smdp_address"),  # 254 characters
        (f"LPA:1${HOST}$ABC_123", "matching_id"),
        (f"LPA:1${HOST}$ABC 123", "matching_id"),
        (f"LPA:1${HOST}$ABC.123", "matching_id"),
        (f"LPA:1${HOST}$ABC 123$1.3.6", "matching_id"),
        (f"LPA:1${HOST}$ÄBC-123", "matching_id"),
        (f"LPA:1${HOST}$ABC-123$1.3.6.x", "oid"),
        (f"LPA:1${HOST}$ABC-123$1", "oid"),
        (f"LPA:1${HOST}$ABC-123$.1.3", "oid"),
        (f"LPA:1${HOST}$ABC-123$1..3", "oid"),
        (f"LPA:1${HOST}$ABC-123$1.3.$1", "oid"),
        (f"LPA:1${HOST}$ABC-123$1.3.6$2", "confirmation_flag"),
        (f"LPA:1${HOST}$ABC-123$1.3.6$0", "confirmation_flag"),
        (f"LPA:1${HOST}$ABC-123$$", "confirmation_flag"),
        (f"LPA:1${HOST}$ABC-123$$true", "confirmation_flag"),
    ],
)
def test_parse_activation_code_rejects(raw, code):
    with pytest.raises(ValidationError) as exc_info:
        parse_activation_code(raw)
    assert _code(exc_info) == code
    assert exc_info.value.messages[0]


@pytest.mark.parametrize(
    ("raw", "message_part"),
    [
        ("LPA:1$https://smdp.example.com$X", "https://"),
        ("LPA:1$smdp.example.com:443$X", "port"),
        ("LPA:1$192.0.2.10$X", "IP address"),
        ("LPA:1$localhost$X", "valid SM-DP+ host name"),
    ],
)
def test_smdp_address_messages_say_what_is_wrong(raw, message_part):
    with pytest.raises(ValidationError) as exc_info:
        parse_activation_code(raw)
    assert message_part in exc_info.value.messages[0]


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        (f"LPA:1${HOST}$ABC-123", f"LPA:1${HOST}$ABC-123"),
        (f"1${HOST}$ABC-123", f"LPA:1${HOST}$ABC-123"),
        (f"lpa:1${HOST}$ABC-123", f"LPA:1${HOST}$ABC-123"),
        (f" LPA:1${HOST}$ABC-123 ", f"LPA:1${HOST}$ABC-123"),
        (f"LPA:1${HOST}$", f"LPA:1${HOST}$"),
        (f"LPA:1${HOST}$ABC-123$", f"LPA:1${HOST}$ABC-123"),  # an empty OID field is dropped
        (f"LPA:1${HOST}$ABC-123$1.3.6.1.4.1.31746", f"LPA:1${HOST}$ABC-123$1.3.6.1.4.1.31746"),
        (f"LPA:1${HOST}$ABC-123$1.3.6.1$1", f"LPA:1${HOST}$ABC-123$1.3.6.1$1"),
        (f"LPA:1${HOST}$ABC-123$$1", f"LPA:1${HOST}$ABC-123$$1"),
        ("LPA:1$SMDP.Example.COM$abc", "LPA:1$SMDP.Example.COM$abc"),  # host kept as given
    ],
)
def test_activation_code_round_trip(raw, canonical):
    parsed = parse_activation_code(raw)
    assert str(parsed) == canonical
    assert parsed.code == canonical
    assert parse_activation_code(str(parsed)) == parsed
    assert str(parse_activation_code(str(parsed))) == canonical


def test_host_compares_case_insensitively_and_matching_id_does_not():
    lower = parse_activation_code("LPA:1$smdp.example.com$ABC")
    upper = parse_activation_code("LPA:1$SMDP.Example.COM$ABC")
    assert lower == upper
    assert hash(lower) == hash(upper)
    assert len({lower, upper}) == 1
    assert lower != parse_activation_code("LPA:1$smdp.example.com$abc")
    assert lower != parse_activation_code("LPA:1$smdp.example.com$ABC$$1")
    assert lower != "LPA:1$smdp.example.com$ABC"


def test_activation_code_is_immutable():
    code = parse_activation_code(f"LPA:1${HOST}$ABC")
    with pytest.raises(dataclasses.FrozenInstanceError):
        code.matching_id = "XYZ"  # type: ignore[misc]


def test_activation_code_is_valid_by_construction():
    with pytest.raises(ValidationError) as exc_info:
        ActivationCode("localhost", "ABC")
    assert _code(exc_info) == "smdp_address"


# ---------------------------------------------------------------- build_activation_code


@pytest.mark.parametrize(
    ("args", "canonical"),
    [
        ((HOST, "ABC-123"), f"LPA:1${HOST}$ABC-123"),
        ((f" {HOST} ", " ABC-123 "), f"LPA:1${HOST}$ABC-123"),  # CSV cells with stray spaces
        ((HOST, ""), f"LPA:1${HOST}$"),
        ((HOST, "ABC-123", "1.3.6.1.4.1.31746"), f"LPA:1${HOST}$ABC-123$1.3.6.1.4.1.31746"),
        ((HOST, "ABC-123", "1.3.6.1", True), f"LPA:1${HOST}$ABC-123$1.3.6.1$1"),
        ((HOST, "ABC-123", "", True), f"LPA:1${HOST}$ABC-123$$1"),
    ],
)
def test_build_activation_code(args, canonical):
    built = build_activation_code(*args)
    assert str(built) == canonical
    assert parse_activation_code(canonical) == built


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("", "ABC"), "smdp_address"),
        (("https://smdp.example.com", "ABC"), "smdp_address"),
        (("smdp.example.com:443", "ABC"), "smdp_address"),
        (("10.0.0.1", "ABC"), "smdp_address"),
        (("localhost", "ABC"), "smdp_address"),
        ((HOST, "ABC_123"), "matching_id"),
        ((HOST, "ABC$1.3.6$1"), "matching_id"),  # no smuggling of extra fields
        ((HOST, "ABC", "1.3.6$1"), "oid"),
        ((HOST, "ABC", "oid"), "oid"),
    ],
)
def test_build_activation_code_rejects(args, code):
    with pytest.raises(ValidationError) as exc_info:
        build_activation_code(*args)
    assert _code(exc_info) == code


# ---------------------------------------------------------------- secrets


@pytest.mark.parametrize(
    "raw",
    [
        f"LPA:2${HOST}${SECRET}",
        f"LPA:1$https://smdp.example.com${SECRET}",
        f"LPA:1$localhost${SECRET}",
        f"LPA:1$192.0.2.1${SECRET}",
        f"LPA:1${HOST}${SECRET}_",
        f"LPA:1${HOST}${SECRET} x",
        f"LPA:1${HOST}${SECRET}$x",
        f"LPA:1${HOST}${SECRET}$1.3$2",
        f"LPA:1${HOST}${SECRET}$1.3$1$1",
        f"{SECRET}",
    ],
)
def test_errors_never_contain_the_matching_id(raw):
    with pytest.raises(ValidationError) as exc_info:
        parse_activation_code(raw)
    error = exc_info.value
    rendered = " ".join([str(error), repr(error), *error.messages, repr(error.params)])
    assert SECRET not in rendered
    assert SECRET[-4:] not in rendered


def test_build_errors_never_contain_the_matching_id():
    with pytest.raises(ValidationError) as exc_info:
        build_activation_code(HOST, SECRET + "_")
    assert SECRET not in " ".join([str(exc_info.value), *exc_info.value.messages])


def test_repr_masks_the_matching_id():
    code = parse_activation_code(f"LPA:1${HOST}${SECRET}")
    assert SECRET not in repr(code)
    assert "••••••••9XZ4" in repr(code)
    assert HOST in repr(code)


# ---------------------------------------------------------------- mask_secret


@pytest.mark.parametrize(
    ("value", "visible", "expected"),
    [
        ("ABCD-EFGH-1234", 4, "••••••••1234"),
        ("12345678", 4, "••••••••5678"),
        ("1234567", 4, "••••••••"),  # would show more than it hides
        ("1234", 4, "••••••••"),
        ("1", 4, "••••••••"),
        ("", 4, ""),
        ("ABCD-EFGH-1234", 0, "••••••••"),
        ("ABCD-EFGH-1234", -1, "••••••••"),
        ("ABCD-EFGH-1234", 2, "••••••••34"),
        ("ABCD-EFGH-1234", 7, "••••••••GH-1234"),
        ("ABCD-EFGH-1234", 8, "••••••••"),
    ],
)
def test_mask_secret(value, visible, expected):
    assert mask_secret(value, visible) == expected


def test_mask_secret_hides_the_length():
    assert len(mask_secret("A" * 12)) == len(mask_secret("A" * 40))


def test_mask_secret_default_shows_four():
    assert mask_secret("QRF-BETTERROAMING-PMRDGIR2EARDEIT5") == "••••••••EIT5"
