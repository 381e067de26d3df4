"""tinyctl.http: httpx without its command-line tool, in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
from tinyctl.http import httpx
print(json.dumps({
    "cli_loaded": sys.modules.get("httpx._main") is not None,
    "click": "click" in sys.modules,
    "pygments": "pygments" in sys.modules,
    "client": httpx.Client.__name__,
    "stub_main": callable(httpx.main),
}))
"""


def test_httpx_comes_without_its_cli_and_works() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(done.stdout) == {
        "cli_loaded": False,
        "click": False,
        "pygments": False,
        "client": "Client",
        "stub_main": True,
    }
