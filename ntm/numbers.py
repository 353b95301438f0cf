"""Numbers as the app and the command line show them: pure formatting, no other import of the library,
so the figures (which import only the trace and this) and the evaluation share one rule.
"""

from __future__ import annotations

import math


def percent(fraction: float) -> str:
    """A fraction of sequences as a percentage that never claims more or less than it measured:
    ``1`` -> ``"100%"``, ``0.999`` -> ``"99.9%"``, ``0.9999`` -> ``"99.9%"`` (not 100%), ``0.77`` ->
    ``"77%"``, ``0.0001`` -> ``"0.1%"`` (not 0%). Tenths of a percent are rounded towards 50%: down
    above it, up below it, so only a perfect (or a wholly failed) count reads as 100% (or 0%)."""
    if fraction >= 1:
        return "100%"
    if fraction <= 0:
        return "0%"
    # A little slack, so that a count stored as float32 (0.999 -> 0.99899995) keeps its tenths.
    tenths = 1000 * fraction
    tenths = math.floor(tenths + 1e-3) if fraction >= 0.5 else math.ceil(tenths - 1e-3)
    text = f"{min(max(tenths, 1), 999) / 10:.1f}"
    return f"{text.removesuffix('.0')}%"
