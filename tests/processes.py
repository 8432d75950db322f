"""The running processes a test looks for (Linux /proc): one scan for the tests of processes left behind."""

import os
from pathlib import Path


def processes_naming(marker: str) -> list[str]:
    """The pids of the running processes whose command line (NUL-separated arguments) contains ``marker``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            pass
    return found
