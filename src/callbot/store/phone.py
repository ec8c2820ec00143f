"""Phone numbers in one written form (E.164, "+33612345678") on the way in and on erasure, so a
resident's calls and callback requests are found whatever form the number was given in."""

from __future__ import annotations

import phonenumbers

DEFAULT_REGION = "FR"  # a number without a country code is read as a French one


def to_e164(number: str | None, region: str = DEFAULT_REGION) -> str | None:
    """'06 12 34 56 78', '0033612345678', '+33 6 12 34 56 78' → '+33612345678'.

    What phonenumbers cannot read (anonymous callers, "client:…" identities, short codes) comes
    back stripped as given, so it still hashes the same way each time; None for an empty value."""
    if number is None or not number.strip():
        return None
    raw = number.strip()
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return raw
    if not phonenumbers.is_possible_number(parsed):
        return raw
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def written_forms(number: str, region: str = DEFAULT_REGION) -> list[str]:
    """Every usual way of writing `number` (E.164, national with and without spaces, 0033…):
    what an erasure must not leave anywhere."""
    e164 = to_e164(number, region) or number
    try:
        parsed = phonenumbers.parse(e164, region)
    except phonenumbers.NumberParseException:
        return [e164]
    national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    international = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    compact = "".join(ch for ch in national if ch.isdigit())
    forms = [e164, e164.removeprefix("+"), "00" + e164.removeprefix("+"), national, compact, international]
    return list(dict.fromkeys(f for f in forms if f))
