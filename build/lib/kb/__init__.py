"""kb: a help-center generator (Markdown articles in git -> MkDocs + Material help site)."""

from __future__ import annotations

__version__ = "0.1.0"
