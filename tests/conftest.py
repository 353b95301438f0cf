"""Fixtures and constants shared by every test folder.

    ROOT    the project folder (tests import it instead of computing it from their own path)
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
