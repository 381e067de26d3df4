"""Who a project is: a stable id made once in its state folder, and the folder it belongs to.

A leaf module: nothing of tinyctl's features is imported here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Identity:
    """Who a project is: a stable id made once in its state folder, and the folder it belongs to.

    The runtime labels everything it creates with it, so two folders whose specs share a
    project name never share a stack. `adopted` names data volumes made by an earlier tinyctl
    (without the id label, which Docker cannot add afterwards) that this project took over.
    """

    id: str
    folder: str
    adopted: tuple[str, ...] = ()

    def as_json(self) -> bytes:
        data = {"id": self.id, "folder": self.folder, "adopted": list(self.adopted)}
        return (json.dumps(data, indent=2) + "\n").encode()

    @classmethod
    def read(cls, file: Path) -> Identity | None:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
            ident = str(data["id"])
            if not re.fullmatch(r"[0-9a-f]{32}", ident):
                return None
            return cls(ident, str(data["folder"]), tuple(str(v) for v in data.get("adopted", ())))
        except (OSError, ValueError, KeyError, TypeError):
            return None
