"""What the benchmarks measure with: the CPU time of a server's whole process tree (gunicorn's
master and workers) read from /proc, so they count what the server spent and not the load
driver beside it; percentiles; a free port on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import requests

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


def wait_until_serving(process: subprocess.Popen, url: str, limit: float = 60.0) -> None:
    """Return once `url` answers 200; kill the server and raise with its last words if it does
    not within `limit` seconds."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=10).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    process.kill()
    said = process.stderr.read().decode()[-2000:] if process.stderr else ""
    raise RuntimeError(f"the server did not answer {url} in {limit:.0f} s: {said}")
