"""The hint a refusal gives on a typo: ` - did you mean stalled?` (as search's field errors do)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """` - did you mean X?` for the option closest to `word` (case aside), or "" when none is close."""
    choices = list(options)
    close = difflib.get_close_matches(word.strip().lower(), [o.lower() for o in choices], n=1, cutoff=0.6)
    if not close:
        return ""
    return f" - did you mean {next(o for o in choices if o.lower() == close[0])}?"
