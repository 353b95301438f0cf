"""How many CPU threads torch uses in the app's process.

The app's models are small (a 100-unit LSTM, a 128 x 20 memory): one thread runs them as fast as two,
and a second thread per session only fights the other sessions, the training jobs and the browser for
the same cores. Measured on this 2-core machine under load: one generalisation evaluation took
13.9 s with torch's default (2 threads) and 0.58 s with 1. Training jobs set their own (``threads``).

    configure()        # -> (threads, problem): NTM_EXPLORER_THREADS or 1, set with torch.set_num_threads
"""

from __future__ import annotations

import os

ENV = "NTM_EXPLORER_THREADS"
DEFAULT = 1
MAX = 256


def configure(environ: dict[str, str] | None = None) -> tuple[int, str | None]:
    """Set torch's intra-op threads from ``NTM_EXPLORER_THREADS`` (default 1). A value that is not a
    whole number from 1 to 256 is not used: the default is, and ``problem`` says what to set instead."""
    import torch

    raw = (os.environ if environ is None else environ).get(ENV, "").strip()
    threads, problem = DEFAULT, None
    if raw:
        if raw.isdigit() and 1 <= int(raw) <= MAX:
            threads = int(raw)
        else:
            problem = (f"{ENV} must be a whole number of threads from 1 to {MAX} (got {raw[:20]!r}); "
                       f"using {DEFAULT}.")
    torch.set_num_threads(threads)
    return threads, problem
