"""Shortcuts through the package for chapter 06: each must score 0 on its part, refused (issue 22).

The entries live in `ch06.py` (as `BYPASS`, also part of its `WRONG`), so that both catalogues check the same code.
"""

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("catalogue_ch06_entries", Path(__file__).with_name("ch06.py"))
_ch06 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_ch06)

SLUG = _ch06.SLUG
BYPASS = _ch06.BYPASS
