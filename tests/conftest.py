"""Fixtures and constants shared by every test folder.

    ROOT    the project folder, the library's ``ntm.io.ROOT``. Test modules write
            ``from ntm.io import ROOT``: ``import conftest`` is not reliable, it names whichever
            conftest.py pytest loaded last (tests/browser's, when that folder is collected).
"""

from __future__ import annotations

from ntm.io import ROOT  # noqa: F401  (re-exported for fixtures defined here)
