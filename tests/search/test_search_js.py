"""The browser engine's own tests (tests/js/, node's test runner), run as part of the suite."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from support import NODE_HINT, missing_service

JS_TESTS = Path(__file__).resolve().parent / "js"


def test_node_tests_of_the_search_worker_pass() -> None:
    if shutil.which("node") is None:
        missing_service(NODE_HINT)
    done = subprocess.run(["node", "--test", *sorted(str(p) for p in JS_TESTS.glob("*.test.js"))],
                          capture_output=True, text=True, env={**os.environ, "PYTHON": sys.executable},
                          cwd=JS_TESTS.parents[2], timeout=120)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "# fail 0" in done.stdout

