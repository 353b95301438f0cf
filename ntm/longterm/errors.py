"""The errors the long-term store raises on purpose; each message says what to do.

    LongTermStoreError             base of them all
      LongTermStoreUnavailable     the backend cannot be reached (``committed`` items stayed)
      LongTermStoreCorrupt         the embedded store's file exists but cannot be read as a store
      InvalidGraphData             propositions, relations or a graph file that cannot be stored
        DimensionMismatch          an embedding whose length differs from the store's D
      UnknownProposition           a relation or lookup names an id the store does not have
"""

from __future__ import annotations


class LongTermStoreError(Exception):
    """Base of every error the long-term store raises on purpose; the message says what to do."""


class LongTermStoreUnavailable(LongTermStoreError):
    """The backend cannot be reached (server down, wrong address or password, lost mid-run).

    ``committed`` counts the items of the failing call that were already acknowledged (they
    stay); writes are idempotent, so repeating the whole call once the server is back is safe.
    """

    def __init__(self, message: str, committed: int = 0):
        super().__init__(message)
        self.committed = committed


class LongTermStoreCorrupt(LongTermStoreError):
    """The store file exists but cannot be read as a store."""


class InvalidGraphData(LongTermStoreError, ValueError):
    """Propositions, relations or a JSON graph file that cannot be stored as given."""


class UnknownProposition(LongTermStoreError, KeyError):
    """A relation or lookup names a proposition id the store does not have."""

    def __str__(self) -> str:  # KeyError would print the repr of the message
        return str(self.args[0]) if self.args else "unknown proposition"


class DimensionMismatch(InvalidGraphData):
    """An embedding whose length differs from the store's dimension D."""
