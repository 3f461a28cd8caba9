"""The environment a test gives a conformance run it starts from this tree."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def cli_env(**extra):
    """os.environ with this tree first on PYTHONPATH, and neither fault switches nor a time
    scale from the caller's shell (each run under test says what it wants), then `extra`."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH")
                                     else "")
    for k in ("ETHOX_UK_FAULTS", "ETHOX_UK_CONFORMANCE_TIMESCALE"):
        env.pop(k, None)
    env.update(extra)
    return env
