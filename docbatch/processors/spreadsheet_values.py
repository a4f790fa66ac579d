"""Cell values as the text a reader expects: numbers without float noise, dates as ISO 8601.

Spreadsheets store dates and times as serial numbers (days since an epoch, the fraction being the time
of day) and tell them apart from plain numbers only by the cell's number format (ECMA-376 Part 1
§18.8.30 numFmt, §18.17.4 dates). This module classifies a number format as a date, a time, a date
with time or an elapsed duration, and renders serials in ISO 8601 (dates ``2026-03-14``, times
``09:30:00``, both ``2026-03-14T09:30:00``, durations ``PT1H30M``).
"""

from __future__ import annotations

import datetime
import enum
import math
import re

# Excel's 1900 date system counts 1900-02-29 (serial 60), a day that never was (ECMA-376 Part 1
# §18.17.4.1); serials from 61 on are therefore counted from 1899-12-30, those before from 1899-12-31.
_EPOCH_1900 = datetime.datetime(1899, 12, 30)
_EPOCH_1904 = datetime.datetime(1904, 1, 1)
_LAST_SERIAL = 2958465  # 9999-12-31, the last day Excel can show

# Built-in number formats (ECMA-376 Part 1 §18.8.30) that show dates, times or elapsed time. 27-36 and
# 50-58 are the East Asian date formats.
_BUILTIN_DATE = {14, 15, 16, 17, *range(27, 32), *range(34, 37), *range(50, 59)}
_BUILTIN_TIME = {18, 19, 20, 21, 32, 33, 45, 47}
_BUILTIN_DATETIME = {22}
_BUILTIN_DURATION = {46}

_QUOTED_OR_ESCAPED = re.compile(r'"[^"]*"|\\.|_.|\*.')
_BRACKETED = re.compile(r"\[[^\]]*\]")
_ELAPSED = re.compile(r"\[(h+|m+|s+)\]", re.IGNORECASE)


class DateKind(enum.Enum):
    """How a number format shows a number: as a date, a time of day, both, or an elapsed duration."""

    DATE = "date"
    TIME = "time"
    DATETIME = "datetime"
    DURATION = "duration"


def builtin_date_kind(format_id: int) -> DateKind | None:
    """The date kind of a built-in number format id, or None when it shows a plain number."""
    if format_id in _BUILTIN_DATE:
        return DateKind.DATE
    if format_id in _BUILTIN_TIME:
        return DateKind.TIME
    if format_id in _BUILTIN_DATETIME:
        return DateKind.DATETIME
    if format_id in _BUILTIN_DURATION:
        return DateKind.DURATION
    return None


def format_date_kind(format_code: str) -> DateKind | None:
    """The date kind of a custom number format code (first section only), or None for a number format.

    Literal text (quoted, backslash-escaped), padding and fill characters and bracketed colours or
    locales are ignored; ``[h]``, ``[mm]``, ``[ss]`` mark an elapsed duration.
    """
    section = _first_section(format_code)
    if _ELAPSED.search(section):
        return DateKind.DURATION
    letters = _BRACKETED.sub("", _QUOTED_OR_ESCAPED.sub("", section)).lower()
    if "general" in letters:
        letters = letters.replace("general", "")
    has_time = "h" in letters or "s" in letters
    # "m" is minutes next to hours or seconds, months otherwise.
    has_date = "d" in letters or "y" in letters or ("m" in letters and not has_time)
    if has_date and has_time:
        return DateKind.DATETIME
    if has_date:
        return DateKind.DATE
    return DateKind.TIME if has_time else None


def _first_section(format_code: str) -> str:
    """The part of a format code before the first unquoted ``;`` (the positive-number section)."""
    quoted = False
    for index, char in enumerate(format_code):
        if char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            return format_code[:index]
    return format_code


def number_text(value: float) -> str:
    """A number without binary float noise: integers without ``.0``; others as the shortest text that
    reads back as the same double, unless rounding to Excel's 15 significant digits leaves at most 13
    (the digits beyond were noise: 0.30000000000000004 -> 0.3, 2.5551999999999997 -> 2.5552)."""
    if math.isnan(value) or math.isinf(value):
        return "#NUM!"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = repr(value)
    if _significant_digits(text) > 15:
        rounded = repr(float(f"{value:.15g}"))
        if _significant_digits(rounded) <= 13:
            text = rounded
    if text.endswith(".0"):
        text = text[:-2]
    return text


def _significant_digits(text: str) -> int:
    mantissa = text.split("e")[0].replace("-", "").replace(".", "")
    return len(mantissa.strip("0")) if "." in text.split("e")[0] else len(mantissa.lstrip("0"))


def serial_text(serial: float, kind: DateKind, date1904: bool = False) -> str | None:
    """A date serial rendered in ISO 8601 for ``kind``; None when the serial is outside Excel's dates
    (negative or after 9999-12-31), in which case the caller shows the number instead."""
    if kind is DateKind.DURATION:
        return duration_text(datetime.timedelta(days=serial))
    if not 0 <= serial <= _LAST_SERIAL or math.isnan(serial):
        return None
    if kind is DateKind.TIME and serial < 1:
        return time_text(_to_datetime(serial, date1904).time())
    if not date1904 and 60 <= serial < 61:
        day, moment = "1900-02-29", _to_datetime(serial - 60, False).time()  # Excel's phantom leap day
    else:
        stamp = _to_datetime(serial, date1904)
        day, moment = stamp.date().isoformat(), stamp.time()
    if kind is DateKind.DATE:
        return day
    if kind is DateKind.TIME:
        return time_text(moment)
    return f"{day}T{time_text(moment)}"


def _to_datetime(serial: float, date1904: bool) -> datetime.datetime:
    if date1904:
        return _EPOCH_1904 + datetime.timedelta(milliseconds=round(serial * 86_400_000))
    epoch = _EPOCH_1900 if serial >= 61 else _EPOCH_1900 + datetime.timedelta(days=1)
    # Rounded to the millisecond: serials carry float noise well below that.
    return epoch + datetime.timedelta(milliseconds=round(serial * 86_400_000))


def time_text(moment: datetime.time) -> str:
    """``HH:MM:SS``, with ``.fff`` or ``.ffffff`` only when the time has a fraction of a second."""
    if moment.microsecond % 1000:
        return moment.isoformat(timespec="microseconds")
    if moment.microsecond:
        return moment.isoformat(timespec="milliseconds")
    return moment.isoformat(timespec="seconds")


def datetime_text(value: datetime.datetime | datetime.date | datetime.time) -> str:
    """A date, a time or a date with time as ISO 8601 (a midnight datetime keeps its ``T00:00:00``)."""
    if isinstance(value, datetime.datetime):
        return f"{value.date().isoformat()}T{time_text(value.time())}"
    if isinstance(value, datetime.time):
        return time_text(value)
    return value.isoformat()


def duration_text(duration: datetime.timedelta) -> str:
    """An ISO 8601 duration with hours, minutes and seconds (``PT1H30M``, ``PT36H``, ``-PT15M``,
    ``PT0S``); hours are not folded into days, as an elapsed-time format shows them."""
    milliseconds = round(duration.total_seconds() * 1000)
    sign = "-" if milliseconds < 0 else ""
    milliseconds = abs(milliseconds)
    hours, rest = divmod(milliseconds, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    parts = [f"{hours}H" if hours else "", f"{minutes}M" if minutes else ""]
    if seconds or millis or not (hours or minutes):
        parts.append(f"{seconds}.{millis:03d}S".replace(".000S", "S") if millis else f"{seconds}S")
    return f"{sign}PT{''.join(parts)}"
