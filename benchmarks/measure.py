"""What the benchmarks measure with: the CPU time of a server's whole process tree (gunicorn's
master and workers) read from /proc, so they count what the server spent and not the load
driver beside it; percentiles; a free port on 127.0.0.1."""

from __future__ import annotations

import os
import socket
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_tree(root: int) -> list[int]:
    """The pid and every descendant's; a process that ends while we walk is skipped."""
    found, queue = [], [root]
    while queue:
        pid = queue.pop()
        found.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                children = Path(f"/proc/{pid}/task/{task}/children").read_text().split()
                queue.extend(int(child) for child in children)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def cpu_seconds(root: int) -> float:
    """utime + stime of the process tree, in seconds (fields 14 and 15 of /proc/PID/stat)."""
    user, system = cpu_split(root)
    return user + system


def cpu_split(root: int) -> tuple[float, float]:
    """(utime, stime) of the process tree in seconds: the Python work, and the kernel's
    (socket and file system calls) on the server's behalf."""
    user = system = 0
    for pid in process_tree(root):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # the command name may contain spaces
        user += int(fields[11])
        system += int(fields[12])
    return user / CLOCK_TICKS, system / CLOCK_TICKS


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]
