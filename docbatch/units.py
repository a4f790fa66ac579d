"""The units a user types: durations (`90s`, `3h30m`), sizes (`512MB`, `75%`) and the failure budget
(`50`, `5%`). Each parser raises ConfigError naming the text and the accepted forms."""

from __future__ import annotations

import re
from dataclasses import dataclass

from docbatch.errors import ConfigError

# One `<number><unit>` part of a duration; `3h30m` and `1h 5m` are several parts in a row.
_DURATION_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*", re.IGNORECASE)
_BARE_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*$")
# Largest first: a compound duration names each unit once, in this order (`30m3h` is a typo).
_DURATION_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_DURATION_HINT = "use a number with a unit (ms, s, m, h, d), e.g. 90s, 5m, 2h, 3h30m"
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1000, "kib": 1024,
    "m": 1000**2, "mb": 1000**2, "mib": 1024**2,
    "g": 1000**3, "gb": 1000**3, "gib": 1024**3,
    "t": 1000**4, "tb": 1000**4, "tib": 1024**4,
}  # fmt: skip


def parse_duration(text: str, *, allow_zero: bool = False) -> float:
    """Seconds from a duration: a bare number of seconds (`90`), one part (`90s`, `5m`, `2h`, `1d`,
    `250ms`, `1.5h`) or several, largest unit first, spaces allowed (`3h30m`, `1h 5m`, `1h30m15s`).

    Raises ConfigError naming the text and the accepted forms; zero is refused unless ``allow_zero``.
    """
    seconds = _duration_seconds(text)
    if seconds is None:
        raise ConfigError(f"invalid duration {text!r}: {_DURATION_HINT}")
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ConfigError(f"invalid duration {text!r}: it must be greater than zero")
    return seconds


def _duration_seconds(text: str) -> float | None:
    """The seconds a well-formed duration stands for, or None when it is not one."""
    bare = _BARE_NUMBER.match(text)
    if bare:
        return float(bare.group(1))
    order = list(_DURATION_UNITS)
    seconds, position, last_rank = 0.0, 0, -1
    while position < len(text):
        part = _DURATION_PART.match(text, position)
        if not part or part.end() == position:
            return None
        unit = part.group(2).lower()
        rank = order.index(unit)
        if rank <= last_rank:  # a unit repeated or out of order
            return None
        seconds += float(part.group(1)) * _DURATION_UNITS[unit]
        position, last_rank = part.end(), rank
    return seconds if last_rank >= 0 else None


def parse_size(text: str) -> int:
    """Bytes from '512MB', '2GiB', '100k', a plain number, or '75%' of this machine's memory."""
    if text.strip().endswith("%"):
        import psutil

        try:
            share = float(text.strip()[:-1]) / 100
        except ValueError:
            share = -1.0
        if not 0 < share <= 1:
            raise ConfigError(f"invalid size {text!r}: a share of memory is between 0% and 100%")
        return int(psutil.virtual_memory().total * share)
    match = _SIZE.match(text)
    if not match or match.group(2).lower() not in _SIZE_UNITS:
        raise ConfigError(f"invalid size {text!r}: use a number with an optional unit, e.g. 512MB, 2GiB")
    number, unit = match.groups()
    return int(float(number) * _SIZE_UNITS[unit.lower()])


@dataclass(frozen=True)
class FailureBudget:
    """--max-failures: an absolute count, or a share of finished documents (after a minimum sample)."""

    count: int | None = None
    share: float | None = None
    min_sample: int = 20

    @classmethod
    def parse(cls, text: str) -> FailureBudget:
        """``50`` (a count) or ``5%`` (a share); ConfigError naming the flag otherwise."""
        text = text.strip()
        try:
            if text.endswith("%"):
                share = float(text[:-1]) / 100
                if not 0 < share <= 1:
                    raise ValueError
                return cls(share=share)
            count = int(text)
            if count < 1:
                raise ValueError
            return cls(count=count)
        except ValueError:
            raise ConfigError(f"invalid --max-failures {text!r}: use a count (50) or a share (5%)") from None

    def __str__(self) -> str:
        """As the user writes it: `50` or `5%` (how the ledger records it, and a retry reads it back)."""
        return f"{self.share * 100:g}%" if self.share is not None else str(self.count)

    def room(self, failures: int) -> int | None:
        """How many more failures a count budget allows (None: no count). Batches are kept this small,
        so that a run stops close to the budget even when its documents fail fast."""
        return None if self.count is None else max(1, self.count - failures)

    def exceeded(self, failures: int, finished: int) -> bool:
        """Whether ``failures`` (documents that failed or died in this run) is over the budget; a share
        is taken of ``finished`` (documents this run processed to a final state)."""
        if self.count is not None:
            return failures >= self.count
        if self.share is not None:
            return finished >= self.min_sample and failures / finished > self.share
        return False
