"""radvd in a network namespace: a real router advertising an IPv6 prefix on one
interface, for the SLAAC tests (host mode over a tap, images over the bridge).

    with Radvd(ns_prefix, "tap0", "2001:db8:1::/64") as r:
        ...                       # RAs every 3-4 s, and in answer to solicitations

The namespace gets IPv6 forwarding on (radvd refuses to advertise a default
route otherwise); the interface must be up. Only this process is ever stopped.
"""

import os
import shutil
import subprocess
import tempfile
import time

CONF = """interface {iface} {{
    AdvSendAdvert on;
    MinRtrAdvInterval 3;
    MaxRtrAdvInterval 4;
    AdvDefaultLifetime 1800;
    AdvLinkMTU {mtu};
    prefix {prefix} {{
        AdvOnLink on;
        AdvAutonomous on;
    }};
}};
"""


class RadvdError(Exception):
    pass


class Radvd:
    def __init__(self, ns_prefix, iface, prefix, mtu=1500):
        if shutil.which("radvd") is None:
            raise RadvdError("radvd is not installed: `make deps` (or apt-get install radvd)")
        self.prefix = list(ns_prefix)
        self.iface = iface
        self.dir = tempfile.mkdtemp(prefix="exuk-radvd-")
        self.conf = os.path.join(self.dir, "radvd.conf")
        with open(self.conf, "w") as f:
            f.write(CONF.format(iface=iface, prefix=prefix, mtu=mtu))
        self.proc = None

    def start(self, timeout=10.0):
        subprocess.run(self.prefix + ["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"],
                       check=True, timeout=10)
        self.proc = subprocess.Popen(
            self.prefix + ["radvd", "-n", "-C", self.conf, "-p", os.path.join(self.dir, "pid"),
                           "-m", "stderr"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace")
                raise RadvdError("radvd exited with status %s: %s" % (self.proc.returncode, err))
            if os.path.exists(os.path.join(self.dir, "pid")):
                return self
            time.sleep(0.05)
        self.stop()
        raise RadvdError("radvd did not start within %.0f s" % timeout)

    def stop(self):
        p = self.proc
        if p is not None and p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
        if p is not None and p.stderr is not None:
            p.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
