"""Turning bytes of unknown encoding into text.

Order (after the WHATWG Encoding Standard's "decode" and HTML's "determining the character
encoding"): a byte-order mark, then a UTF-16/UTF-32 NUL pattern (a BOM-less UTF-16 file is not
valid in any 8-bit encoding), then the charset the document declares (mapped through the WHATWG
label table), then UTF-8, then charset detection.
"""

from __future__ import annotations

import codecs
import re

from docbatch.errors import CorruptDocument

# UTF-32 LE's BOM begins with UTF-16 LE's, so the longer BOMs are tested first.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")

# The WHATWG Encoding Standard's table of labels (section 4.2, "Names and labels"): every label,
# lower-case, under the encoding it names. Browsers read a page by this table, so documents written
# for browsers are too: "iso-8859-1", "latin1" and "us-ascii" all mean windows-1252 (bytes 0x80-0x9F
# are curly quotes, dashes and the euro sign, never C1 controls).
_WHATWG_LABELS: dict[str, str] = {
    "UTF-8": "unicode-1-1-utf-8 unicode11utf8 unicode20utf8 utf-8 utf8 x-unicode20utf8",
    "IBM866": "866 cp866 csibm866 ibm866",
    "ISO-8859-2": "csisolatin2 iso-8859-2 iso-ir-101 iso8859-2 iso88592 iso_8859-2 iso_8859-2:1987 l2 latin2",
    "ISO-8859-3": "csisolatin3 iso-8859-3 iso-ir-109 iso8859-3 iso88593 iso_8859-3 iso_8859-3:1988 l3 latin3",
    "ISO-8859-4": "csisolatin4 iso-8859-4 iso-ir-110 iso8859-4 iso88594 iso_8859-4 iso_8859-4:1988 l4 latin4",
    "ISO-8859-5": "csisolatincyrillic cyrillic iso-8859-5 iso-ir-144 iso8859-5 iso88595 iso_8859-5 iso_8859-5:1988",
    "ISO-8859-6": "arabic asmo-708 csiso88596e csiso88596i csisolatinarabic ecma-114 iso-8859-6 iso-8859-6-e "
    "iso-8859-6-i iso-ir-127 iso8859-6 iso88596 iso_8859-6 iso_8859-6:1987",
    "ISO-8859-7": "csisolatingreek ecma-118 elot_928 greek greek8 iso-8859-7 iso-ir-126 iso8859-7 iso88597 "
    "iso_8859-7 iso_8859-7:1987 sun_eu_greek",
    "ISO-8859-8": "csiso88598e csisolatinhebrew hebrew iso-8859-8 iso-8859-8-e iso-ir-138 iso8859-8 iso88598 "
    "iso_8859-8 iso_8859-8:1988 visual",
    "ISO-8859-8-I": "csiso88598i iso-8859-8-i logical",
    "ISO-8859-10": "csisolatin6 iso-8859-10 iso-ir-157 iso8859-10 iso885910 l6 latin6",
    "ISO-8859-13": "iso-8859-13 iso8859-13 iso885913",
    "ISO-8859-14": "iso-8859-14 iso8859-14 iso885914",
    "ISO-8859-15": "csisolatin9 iso-8859-15 iso8859-15 iso885915 iso_8859-15 l9",
    "ISO-8859-16": "iso-8859-16",
    "KOI8-R": "cskoi8r koi koi8 koi8-r koi8_r",
    "KOI8-U": "koi8-ru koi8-u",
    "macintosh": "csmacintosh mac macintosh x-mac-roman",
    "windows-874": "dos-874 iso-8859-11 iso8859-11 iso885911 tis-620 windows-874",
    "windows-1250": "cp1250 windows-1250 x-cp1250",
    "windows-1251": "cp1251 windows-1251 x-cp1251",
    "windows-1252": "ansi_x3.4-1968 ascii cp1252 cp819 csisolatin1 ibm819 iso-8859-1 iso-ir-100 iso8859-1 "
    "iso88591 iso_8859-1 iso_8859-1:1987 l1 latin1 us-ascii windows-1252 x-cp1252",
    "windows-1253": "cp1253 windows-1253 x-cp1253",
    "windows-1254": "cp1254 csisolatin5 iso-8859-9 iso-ir-148 iso8859-9 iso88599 iso_8859-9 iso_8859-9:1989 l5 "
    "latin5 windows-1254 x-cp1254",
    "windows-1255": "cp1255 windows-1255 x-cp1255",
    "windows-1256": "cp1256 windows-1256 x-cp1256",
    "windows-1257": "cp1257 windows-1257 x-cp1257",
    "windows-1258": "cp1258 windows-1258 x-cp1258",
    "x-mac-cyrillic": "x-mac-cyrillic x-mac-ukrainian",
    "GBK": "chinese csgb2312 csiso58gb231280 gb2312 gb_2312 gb_2312-80 gbk iso-ir-58 x-gbk",
    "gb18030": "gb18030",
    "Big5": "big5 big5-hkscs cn-big5 csbig5 x-x-big5",
    "EUC-JP": "cseucpkdfmtjapanese euc-jp x-euc-jp",
    "ISO-2022-JP": "csiso2022jp iso-2022-jp",
    "Shift_JIS": "csshiftjis ms932 ms_kanji shift-jis shift_jis sjis windows-31j x-sjis",
    "EUC-KR": "cseuckr csksc56011987 euc-kr iso-ir-149 korean ks_c_5601-1987 ks_c_5601-1989 ksc5601 ksc_5601 "
    "windows-949",
    "replacement": "csiso2022kr hz-gb-2312 iso-2022-cn iso-2022-cn-ext iso-2022-kr replacement",
    "UTF-16BE": "unicodefffe utf-16be",
    "UTF-16LE": "csunicode iso-10646-ucs-2 ucs-2 unicode unicodefeff utf-16 utf-16le",
    "x-user-defined": "x-user-defined",
}
_LABEL_TO_ENCODING = {label: name for name, labels in _WHATWG_LABELS.items() for label in labels.split()}

# Python's codec for each WHATWG encoding whose name Python spells differently or whose WHATWG
# decoder is a superset: GBK is decoded by the gb18030 decoder, Big5 includes HKSCS, Shift_JIS is
# Windows-31J and EUC-KR is Windows-949 (section 10-13 of the standard). x-user-defined is close
# enough to windows-1252 for text (HTML maps it so too); "replacement" has no codec on purpose.
_PYTHON_CODECS = {
    "UTF-8": "utf-8",
    "IBM866": "cp866",
    "ISO-8859-8-I": "iso8859-8",
    "macintosh": "mac-roman",
    "windows-874": "cp874",
    "x-mac-cyrillic": "mac-cyrillic",
    "GBK": "gb18030",
    "gb18030": "gb18030",
    "Big5": "big5hkscs",
    "EUC-JP": "euc-jp",
    "ISO-2022-JP": "iso2022-jp",
    "Shift_JIS": "cp932",
    "EUC-KR": "cp949",
    "UTF-16BE": "utf-16-be",
    "UTF-16LE": "utf-16-le",
    "x-user-defined": "cp1252",
}
# Windows code pages whose few unassigned bytes in 0x80-0x9F WHATWG decodes as the C1 control of
# the same number (where Python's codecs fail), so a stray byte never discards a whole document.
_C1_PASSTHROUGH = frozenset({"cp874", *(f"cp{page}" for page in range(1250, 1259))})
_C1_HANDLER = "docbatch-whatwg-c1"
_ASCII_WHITESPACE = "\t\n\f\r "


def _c1_passthrough(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    if all(0x80 <= byte <= 0x9F for byte in bad):
        return "".join(map(chr, bad)), error.end
    raise error


codecs.register_error(_C1_HANDLER, _c1_passthrough)


def whatwg_encoding(label: str) -> str | None:
    """The WHATWG Encoding Standard's name for ``label`` ("latin1" -> "windows-1252"), or None for an
    unknown label. Surrounding ASCII whitespace and case are ignored, as the standard says."""
    return _LABEL_TO_ENCODING.get(label.strip(_ASCII_WHITESPACE).lower())


def codec_for_label(label: str) -> str | None:
    """The Python codec that decodes text declared with charset ``label``, or None when neither the
    WHATWG table nor Python knows it (or it is WHATWG's "replacement", a label kept unreadable on
    purpose). Labels outside the WHATWG table that Python knows (utf-32, cp850, ...) are kept."""
    name = whatwg_encoding(label)
    if name == "replacement":
        return None
    if name is not None:
        return _PYTHON_CODECS.get(name) or _python_spelling(name)
    try:
        return codecs.lookup(label.strip(_ASCII_WHITESPACE)).name
    except (LookupError, ValueError):
        return None


def _python_spelling(name: str) -> str:
    lowered = name.lower()
    if lowered.startswith("windows-"):
        return "cp" + lowered.removeprefix("windows-")
    return lowered.replace("iso-8859-", "iso8859-")


def decode_with(data: bytes, codec: str) -> str:
    """Decode ``data`` strictly with Python ``codec``, except that Windows code pages decode their
    unassigned 0x80-0x9F bytes as C1 controls (as WHATWG does). Raises UnicodeDecodeError, LookupError."""
    errors = _C1_HANDLER if codecs.lookup(codec).name in _C1_PASSTHROUGH else "strict"
    return data.decode(codec, errors)


def bom_encoding(data: bytes) -> str | None:
    """The Python codec named by ``data``'s byte-order mark, or None when it has none."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding
    return None


def wide_unicode_encoding(data: bytes) -> str | None:
    """ "utf-32-le/-be" or "utf-16-le/-be" for BOM-less UTF-32/UTF-16 text, recognised by its NUL
    bytes: ASCII-range characters leave zeros in fixed byte positions, which no 8-bit text does.
    Looks at the first 4 KB; None when the pattern is absent or the bytes do not decode."""
    sample = data[:4096]
    if b"\x00" not in sample or len(sample) < 4:
        return None
    candidates = []
    quarter = sample[: len(sample) - len(sample) % 4]
    zeros = [quarter[offset::4].count(0) / (len(quarter) // 4) for offset in range(4)]
    if min(zeros[1:]) > 0.9 and zeros[0] < 0.5:
        candidates.append("utf-32-le")
    if min(zeros[:3]) > 0.9 and zeros[3] < 0.5:
        candidates.append("utf-32-be")
    half = len(sample) // 2
    even, odd = sample[0::2].count(0) / half, sample[1::2].count(0) / half
    if odd > 0.3 and even < 0.02:
        candidates.append("utf-16-le")
    if even > 0.3 and odd < 0.02:
        candidates.append("utf-16-be")
    for codec in candidates:
        width = 4 if codec.startswith("utf-32") else 2
        try:
            # Only whole code units are tested: the sample may cut the text mid-character.
            sample[: len(sample) - len(sample) % width - width].decode(codec)
        except UnicodeDecodeError:
            continue
        return codec
    return None


def looks_binary(head: bytes) -> bool:
    """True for content that is not text in any common encoding (NULs or many control bytes, no BOM)."""
    if not head or bom_encoding(head):
        return False
    nuls = head.count(0)
    if nuls:
        # UTF-16 without a BOM has a NUL in every other byte of ASCII text; real binaries are irregular.
        even, odd = head[0::2].count(0), head[1::2].count(0)
        half = len(head) // 2 or 1
        if (odd / half > 0.3 and even == 0) or (even / half > 0.3 and odd == 0):
            return False
    # Stray NULs in a text file (a bad export, a truncated write) must not lose the whole document: it
    # is read, and the clean-up removes and counts them. Binary content is recognised instead by its
    # other control bytes (random or compressed bytes hold about 9 %: 24 of 256 values) or by NULs
    # making up a tenth of it (zero-padded structures, executables).
    others = len(_CONTROL.findall(head)) - nuls
    return nuls > max(2, len(head) * 0.1) or others > len(head) * 0.05


def decode_text(data: bytes, declared: str | None = None) -> tuple[str, str]:
    """Decode to text with universal newlines; returns (text, Python codec used).

    ``declared`` is a charset label the document carries (an HTML meta, a MIME parameter); it is read
    through the WHATWG label table and loses to a BOM, to a UTF-16/32 NUL pattern, and (a legacy label)
    to bytes that are valid UTF-8 with non-ASCII characters. Raises CorruptDocument when nothing decodes.
    """
    candidates = [bom_encoding(data) or wide_unicode_encoding(data)]
    declared_codec = codec_for_label(declared) if declared else None
    if declared_codec and not declared_codec.startswith("utf") and _utf8_beyond_ascii(data):
        # Multi-byte UTF-8 sequences almost never occur by chance in legacy-encoded text, while UTF-8
        # labelled with an old charset is common (mail clients, templates): the bytes win the tie.
        declared_codec = None
    candidates.append(declared_codec)
    candidates.append("utf-8")
    for candidate in candidates:
        if candidate is None:
            continue
        try:
            return _normalise(decode_with(data, candidate)), candidate
        except (UnicodeDecodeError, LookupError):
            continue
    return detect_and_decode(data)


def declared_charset_warning(label: str | None, used: str, where: str) -> str | None:
    """A warning when text declared as charset ``label`` was read as another encoding ``used`` (the
    declaration lost to the bytes), or None when they agree or nothing was declared. ``where`` names
    the text ("the page", "a text/plain part")."""
    if not label:
        return None
    declared = codec_for_label(label)
    if declared is None:
        return f"{where} declares an unknown charset {label!r}: read as {used}"
    if _codec_family(declared) != _codec_family(used):
        return f"{where} declared as {label} is not {label}: read as {used}"
    return None


def _codec_family(codec: str) -> str:
    name = codecs.lookup(codec).name
    return name.removesuffix("-sig").removesuffix("-le").removesuffix("-be")


def _utf8_beyond_ascii(data: bytes) -> bool:
    if data.isascii():
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def detect_and_decode(data: bytes) -> tuple[str, str]:
    """Decode by statistical detection (charset-normalizer); returns (text, codec). Raises CorruptDocument."""
    import charset_normalizer

    matches = charset_normalizer.from_bytes(data)
    best = matches.best()
    if best is None:
        raise CorruptDocument("cannot decode as text: binary content or an unknown encoding")
    # Short texts often read equally cleanly in several code pages, and the language-coherence score
    # that breaks the tie is weak on them (it picked DOS code pages for French). Windows-1252 is by far
    # the most common legacy encoding (browsers read Latin-1 as it too), so it wins when as clean.
    # The detector stops early and may never score Windows-1252, so it is scored on its own when missing.
    windows_1252 = next((m for m in matches if m.encoding == "cp1252"), None)
    if windows_1252 is None:
        windows_1252 = charset_normalizer.from_bytes(data, cp_isolation=["cp1252"]).best()
    if windows_1252 is not None and windows_1252.chaos <= best.chaos + 0.01:
        return _normalise(str(windows_1252)), "cp1252"
    return _normalise(str(best)), best.encoding


def _normalise(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")
