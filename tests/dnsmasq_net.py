"""dnsmasq as DHCP and DNS server in a private namespace, for tests (CPython, root).

    with DnsmasqNet() as n:                     # BridgeNet + dnsmasq on the tester veth
        n.inside([...ethox-uk ... --net tap:tap0 --ip dhcp])   # the guest side: tap0
        n.log()                                 # what dnsmasq said (DHCP and queries)

Layout: ethox_uk/netsetup/bridge.py's namespace (bridge br0 with the guest's tap0 and the
tester veth0, 10.0.2.2/24). dnsmasq listens on veth0 only: DHCP hands out RANGE (2-minute
leases, router and name server 10.0.2.2), DNS answers the names in RECORDS (TTL 60 s) for the `test`
domain and NXDOMAIN for other names there (`--local=/test/`); it has no upstream server
(`--no-resolv`, no `--server`), so nothing is ever forwarded anywhere. Everything goes with
the namespace on exit.
"""

import os
import shutil
import subprocess
import tempfile
import time

from ethox_uk.netsetup.bridge import BridgeNet

RANGE = ("10.0.2.50", "10.0.2.60")
BIG = ["10.9.0.%d" % i for i in range(1, 41)]  # 40 A records: over 512 bytes, TC over UDP
RECORDS = [("alpha.test", "10.0.2.7"), ("beta.test", "10.0.2.8"),
           ("six.test", "2001:db8::7")] + [("big.test", a) for a in BIG]
CNAMES = [("www.test", "alpha.test")]


class DnsmasqNet:
    def __init__(self, dhcp_range=RANGE, records=RECORDS, cnames=CNAMES, extra=(),
                 ping=False):
        if os.geteuid() != 0:
            raise AssertionError("a private namespace needs root; CI runs as root")
        if shutil.which("dnsmasq") is None:
            raise AssertionError("dnsmasq is not installed: `make deps` (Debian package "
                                 "dnsmasq-base)")
        self.dir = tempfile.mkdtemp(prefix="exdm", dir="/tmp")
        self.logfile = os.path.join(self.dir, "dnsmasq.log")
        self.br = BridgeNet()
        self.ns = self.br.ns
        try:
            argv = ["dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--no-resolv",
                    "--no-hosts", "--interface=veth0", "--bind-interfaces",
                    "--dhcp-range=%s,%s,255.255.255.0,2m" % dhcp_range,
                    "--dhcp-option=option:router,10.0.2.2",
                    "--dhcp-option=option:dns-server,10.0.2.2",
                    "--dhcp-leasefile=%s" % os.path.join(self.dir, "leases"),
                    "--dhcp-authoritative", "--pid-file=", "--local=/test/", "--local-ttl=60",
                    "--log-dhcp", "--log-queries", "--log-facility=-"]
            if not ping:
                argv.append("--no-ping")  # it would ping each address before offering it
            for name, addr in records:
                argv.append("--host-record=%s,%s" % (name, addr))
            for alias, target in cnames:
                argv.append("--cname=%s,%s" % (alias, target))
            argv += list(extra)
            self._log = open(self.logfile, "wb")
            self.proc = self.ns.popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL)
            deadline = time.monotonic() + 10
            while "DHCP, IP range" not in self.log():
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("dnsmasq did not start: %s" % self.log())
                time.sleep(0.05)
        except BaseException:
            self.close()
            raise

    @property
    def name(self):
        return self.ns.name

    def log(self):
        try:
            with open(self.logfile, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def prefix(self):
        return self.ns.prefix()

    def inside(self, argv, **kw):
        """Run argv inside the namespace to completion (bounded): CompletedProcess."""
        kw.setdefault("timeout", 120)
        return self.ns.run(argv, **kw)

    def close(self):
        try:
            self.br.close()
        finally:
            if getattr(self, "_log", None) is not None:
                self._log.close()
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
