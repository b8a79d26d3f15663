"""The generator's own file formats, written atomically through ``edtalk.atomic``."""

from __future__ import annotations

import json
from pathlib import Path

from edtalk.atomic import write_text


def write_json(path: Path, obj, indent: int | None = None) -> None:
    """JSON plus a newline; compact separators unless ``indent`` is given."""
    text = json.dumps(obj, indent=indent, separators=(",", ":") if indent is None else None)
    write_text(path, text + "\n")
