"""Peak memory of one `cai` command, run in a child process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import constitutional

# VmHWM is the peak of the child's own memory map. ru_maxrss would not do: Linux carries the parent's
# peak into it across fork and exec, so a big parent (a test run that loaded a model) inflates it.
CODE = """import sys
from constitutional.cli.app import app
try:
    app(sys.argv[1:])
except SystemExit:
    pass
with open("/proc/self/status") as status:
    print(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
"""


def cai_peak_rss_mb(*args: str) -> float:
    """Peak RSS in MB of `cai ARGS...`, run by the same `constitutional` as this process (a worktree's,
    say, rather than the installed one)."""
    src = str(Path(constitutional.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, "-c", CODE, *args], capture_output=True, text=True, check=True, env=env)
    return int(out.stdout.strip().splitlines()[-1]) / 1024
