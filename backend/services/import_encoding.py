"""Reading an import file's bytes as text, whatever the CRM or spreadsheet saved it as.

Excel saves "CSV" as Windows-1252 ("CSV (Comma delimited)"), UTF-8 with a BOM ("CSV UTF-8") or
UTF-16 ("Unicode Text"); Salesforce and HubSpot export UTF-8. So, in this order:

1. A byte order mark decides (UTF-32, UTF-16, UTF-8).
2. Mostly every other byte zero, no BOM: UTF-16 (little or big endian by where the zeros are).
3. Many control bytes (NULs, the other C0 codes): not a text file at all (a spreadsheet saved as
   .xlsx, a zip, an image): refused with that reason, instead of importing garbage or failing
   on the first NUL. A stray NUL in one row of a text file is that row's problem, rejected on
   its line by the importer.
4. Valid UTF-8: UTF-8.
5. Otherwise Windows-1252 (a superset of Latin-1 for text), or Latin-1 for the five bytes
   Windows-1252 leaves undefined, with a note saying so: a wrong guess shows up as odd letters
   in names the operator can see in the note, not as a crash.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

SAMPLE = 64 * 1024
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_TEXT_CONTROLS = frozenset(b"\t\n\r\f")
BINARY_SHARE = 0.10
"""Share of control bytes above which a file is not text (text has almost none)."""


class NotTextError(ValueError):
    """The file is not text in any encoding we read; the message says what it looks like."""


@dataclass(frozen=True, slots=True)
class DecodedText:
    """An import file as text, the encoding it was read with, and a note if that was a guess."""

    text: str
    encoding: str
    note: str | None = None


def _utf16_without_bom(sample: bytes) -> str | None:
    even, odd = sample[0::2], sample[1::2]
    if len(sample) < 4:
        return None
    zero_odd = odd.count(0) / max(1, len(odd))
    zero_even = even.count(0) / max(1, len(even))
    if zero_odd > 0.4 and zero_even < 0.05:
        return "utf-16-le"
    if zero_even > 0.4 and zero_odd < 0.05:
        return "utf-16-be"
    return None


def decode_import_bytes(data: bytes) -> DecodedText:
    """Decode ``data`` following the module's rules.

    Raises:
        NotTextError: The bytes are binary, or undecodable in the encoding their BOM names.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return DecodedText(data.decode(encoding), encoding)
            except UnicodeDecodeError as exc:
                msg = f"the file starts like {encoding.upper()} but is not ({exc.reason})"
                raise NotTextError(msg) from None
    sample = data[:SAMPLE]
    utf16 = _utf16_without_bom(sample)
    if utf16 is not None:
        try:
            return DecodedText(
                data.decode(utf16), utf16, f"read as {utf16.upper()} (no byte order mark)"
            )
        except UnicodeDecodeError:
            pass
    controls = sum(1 for byte in sample if byte < 0x20 and byte not in _TEXT_CONTROLS)
    if sample and controls / len(sample) > BINARY_SHARE:
        msg = (
            "this is not a text file (an .xlsx workbook, a zip or an image?); "
            "save it from the spreadsheet as CSV"
        )
        raise NotTextError(msg)
    try:
        return DecodedText(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text, encoding = data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        text, encoding = data.decode("latin-1"), "latin-1"
    label = "Windows-1252" if encoding == "cp1252" else "Latin-1"
    return DecodedText(
        text, encoding, f"not UTF-8: read as {label}; check accented names after the import"
    )


__all__ = ["DecodedText", "NotTextError", "decode_import_bytes"]
