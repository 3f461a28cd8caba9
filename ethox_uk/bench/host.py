"""`ethox-uk bench --host RECIPE [--json F]`: runs bench/rtt.py under CPython and under the
MicroPython unix port (ethox_uk.build.toolchain.micropython_unix()), collects its JSON lines,
prints a rich table and optionally writes JSON:

    {"recipe": ..., "count": N, "results": [
        {"kind": "rtt", "interp": "cpython"|"micropython", "nic": "pair"|"dgram",
         "proto": "icmp"|"udp", "count", "answered", "per_s", "us_per_rtt", "internal_error"},
        {"kind": "alloc", "interp": "micropython", "proto": "icmp"|"udp"|"udp_closed_port",
         "frames", "answered", "bytes_per_packet", "probe_bytes", "internal_error"}],
    (rtt: per_s and us_per_rtt are the median of rtt.REPEATS timed runs, listed in runs_us;
    probe_bytes: what the same measurement saw for one bytearray(100), so 0 B/packet is real)
     "errors": [...]}

Exit status 0 when every run finished, every request was answered and internal_error stayed
0; 1 otherwise (the table and JSON are written either way).
"""

import json
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ..build import recipe as recipe_mod

RTT_SCRIPT = Path(__file__).resolve().parent / "rtt.py"
MP_HEAP = "64M"
RUN_TIMEOUT = 600


def _run(argv, label):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        return [], ["%s: no result within %d s" % (label, RUN_TIMEOUT)]
    rows, errors = [], []
    for line in r.stdout.splitlines():
        if line.startswith("{"):
            try:
                rows.append(json.loads(line))
            except ValueError:
                errors.append("%s: bad output line %r" % (label, line))
    if r.returncode != 0:
        tail = (r.stderr or r.stdout).strip().splitlines()[-6:]
        errors.append("%s exited with status %d: %s" % (label, r.returncode, " | ".join(tail)))
    return rows, errors


def collect(recipe, count, micropython=True):
    """(rows, errors) from rtt.py under CPython and, if asked, MicroPython."""
    sockdir = tempfile.mkdtemp(prefix="exb", dir="/tmp")
    args = [str(RTT_SCRIPT), str(recipe.dir), recipe.app, str(count), sockdir, recipe.cmdline]
    rows, errors = [], []
    try:
        r, e = _run([sys.executable] + args, "cpython")
        rows += r
        errors += e
        if micropython:
            from ..build import toolchain

            try:
                mp = toolchain.micropython_unix()
            except Exception as exc:  # a toolchain failure is reported, not fatal
                errors.append("micropython unix port unavailable: %s" % exc)
            else:
                r, e = _run([str(mp), "-X", "heapsize=" + MP_HEAP] + args, "micropython")
                rows += r
                errors += e
    finally:
        shutil.rmtree(sockdir, ignore_errors=True)
    for row in rows:
        want = row.get("count", row.get("frames"))
        if row.get("internal_error"):
            errors.append("%s %s %s: internal_error=%d" % (
                row["interp"], row.get("nic", "alloc"), row["proto"], row["internal_error"]))
        if row["kind"] == "alloc" and not row.get("probe_bytes"):
            errors.append("%s alloc %s: gc.mem_alloc() did not see a known allocation"
                          % (row["interp"], row["proto"]))
        if row["kind"] == "rtt" and row["answered"] < want:
            errors.append("%s %s %s: %d of %d requests answered" % (
                row["interp"], row["nic"], row["proto"], row["answered"], want))
    return rows, errors


def table(rows):
    from rich.table import Table

    t = Table(title="ethox-uk bench: host mode, stack + raw peer in one process")
    for col, right in (("interpreter", False), ("NIC", False), ("traffic", False),
                       ("RTT/s", True), ("µs/RTT", True), ("alloc B/pkt", True)):
        t.add_column(col, justify="right" if right else "left")
    for r in rows:
        if r["kind"] == "rtt":
            t.add_row(r["interp"], r["nic"], r["proto"] + " echo", "%.0f" % r["per_s"],
                      "%.1f" % r["us_per_rtt"], "")
    for r in rows:
        if r["kind"] == "alloc":
            what = "udp, closed port" if r["proto"] == "udp_closed_port" else r["proto"] + " echo"
            t.add_row(r["interp"], "rx path", what, "", "", "%.1f" % r["bytes_per_packet"])
    return t


def run_bench(recipe_arg, json_path, count, micropython=True):
    from rich.console import Console

    console = Console()
    try:
        recipe = recipe_mod.load(recipe_arg)
    except recipe_mod.RecipeError as e:
        print("ethox-uk: error: %s" % e, file=sys.stderr)
        return 2
    rows, errors = collect(recipe, count, micropython)
    console.print(table(rows))
    for e in errors:
        print("ethox-uk bench: " + e, file=sys.stderr)
    if json_path:
        doc = {"recipe": recipe.name, "count": count, "machine": platform.machine(),
               "python": platform.python_version(), "results": rows, "errors": errors}
        Path(json_path).write_text(json.dumps(doc, indent=2) + "\n")
    return 1 if errors or not rows else 0
