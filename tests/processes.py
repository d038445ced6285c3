"""Process helpers shared by the tests that check what vrbench leaves behind (temporaries of dead processes, tool
process trees)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", ""])
    proc.wait()
    return proc.pid


def alive(pid: int) -> bool:
    """Running (zombies that no one reaped yet count as dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
