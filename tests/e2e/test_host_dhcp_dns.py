"""Host mode (`ethox-uk host RECIPE --net tap:tap0 --ip dhcp`) against real peers: dnsmasq as
DHCP and DNS server in a private namespace (tests/dnsmasq_net.py), the namespace's kernel as a
client. The address comes from dnsmasq, names resolve through it (A, a CNAME, AAAA, an answer
too long for UDP that only TCP brings whole, NXDOMAIN), the stack answers ping and HTTP on its
leased address; an address another host holds is declined (RFC 5227 probe, DHCPDECLINE seen by
dnsmasq) and, with nothing else to offer, the run ends with status 5; no server at all: 5.
Root (CI runs as root); every wait is bounded."""

import ipaddress
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dnsmasq_net import BIG, DnsmasqNet  # noqa: E402

from ethox_uk.host.process import HostProcess, child_env, command  # noqa: E402
from ethox_uk.netsetup.bridge import BridgeNet  # noqa: E402

APP = Path(__file__).resolve().parent / "dnsapp"
READY_TIMEOUT = 30.0  # the RFC 5227 check is scaled to 0.5 s by the recipe's acd=500
PING = "import sys; from ethox_uk.netsetup.ping import ping; print('ping', ping(sys.argv[1]))"


def _recipe(tmp, cmdline):
    """A copy of tests/e2e/dnsapp with another cmdline."""
    d = Path(tmp) / "app"
    shutil.copytree(APP, d)
    text = (d / "recipe.toml").read_text()
    (d / "recipe.toml").write_text(re.sub(r'(?m)^cmdline = .*$', 'cmdline = "%s"' % cmdline,
                                          text))
    return d


def test_host_lease_and_names_from_dnsmasq():
    with DnsmasqNet() as net:
        h = HostProcess(APP, "tap:tap0", prefix=net.prefix()).start()
        try:
            ip, mac = h.wait_ready(READY_TIMEOUT)
            assert ipaddress.ip_address(ip) in ipaddress.ip_network("10.0.2.48/28"), ip
            assert 50 <= int(ip.rsplit(".", 1)[1]) <= 60
            out = "\n".join(h.lines)
            assert "resolved alpha.test 10.0.2.7" in out, out
            assert "resolved www.test 10.0.2.7" in out, out  # a CNAME to alpha.test
            assert "resolved six.test 2001:db8::7" in out, out
            assert "resolved ALPHA.test. 10.0.2.7" in out, out  # cached: case and dot
            big = [ln for ln in h.lines if ln.startswith("resolved big.test ")]
            assert big and sorted(big[0].split()[2:]) == sorted(BIG), out  # whole: over TCP
            assert re.search(r"failed nowhere\.test -2 nowhere\.test does not exist", out), out
            log = net.log()
            assert "DHCPACK(veth0) %s %s" % (ip, mac) in log, log
            assert "query[A] alpha.test from %s" % ip in log, log
            assert "query[AAAA] six.test from %s" % ip in log, log
            assert log.count("query[A] alpha.test from") == 1, log  # the cache answered
            # served on the leased address: ping and HTTP from the namespace's kernel
            r = net.inside([sys.executable, "-c", PING, ip], timeout=30, env=child_env())
            assert r.returncode == 0 and "ping" in r.stdout, r.stdout + r.stderr
            r = net.inside(["curl", "-s", "-m", "10", "http://%s/" % ip], timeout=30)
            assert r.returncode == 0 and "ethox-uk %s" % ip in r.stdout, r.stdout + r.stderr
            assert re.search(r"^dns_tcp_queries_sent 1$", r.stdout, re.M), r.stdout
            assert re.search(r"^internal_error 0$", r.stdout, re.M), r.stdout
        finally:
            status = h.stop()
            _, err = h.communicate()
    assert status == 0, err
    assert "ethox-uk: dhcp: bound %s/24 gw 10.0.2.2 dns 10.0.2.2, lease 120 s from " \
           "10.0.2.2" % ip in err, err


def test_host_declines_an_address_in_use_then_gives_up():
    tmp = tempfile.mkdtemp(prefix="exhd", dir="/tmp")
    try:
        recipe = _recipe(tmp, "ip=dhcp acd=700 dhcp_timeout=12")
        with DnsmasqNet(dhcp_range=("10.0.2.50", "10.0.2.50")) as net:
            # the namespace's kernel holds the only address dnsmasq may offer: it answers
            # the stack's ARP probes for it (Linux replies to probes for its addresses)
            net.ns.ip("addr", "add", "10.0.2.50/32", "dev", "lo")
            t0 = time.monotonic()
            p = subprocess.run(net.prefix() + command("host", str(recipe), "--net", "tap:tap0"),
                               capture_output=True, text=True, timeout=60, env=child_env())
            took = time.monotonic() - t0
            log = net.log()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    assert p.returncode == 5, (p.returncode, p.stdout, p.stderr)
    assert "ethox-uk: ready" not in p.stdout
    assert "10.0.2.50 is in use by " in p.stderr and "declined; asking again in 10 s" in p.stderr
    # (dnsmasq offers the address again after the 10 s wait: declined again)
    assert re.search(r"every address offered was in use \([12] declined\) within 12 s",
                     p.stderr), p.stderr
    assert "exiting with status 5" in p.stderr
    assert "DHCPDECLINE(veth0) 10.0.2.50 52:54:00:12:34:56" in log, log
    assert 11 < took < 40, took


def test_host_without_a_server_exits_5():
    tmp = tempfile.mkdtemp(prefix="exhd", dir="/tmp")
    try:
        recipe = _recipe(tmp, "ip=dhcp dhcp_timeout=5")
        with BridgeNet() as br:
            t0 = time.monotonic()
            p = subprocess.run(br.prefix() + command("host", str(recipe), "--net", "tap:tap0"),
                               capture_output=True, text=True, timeout=60, env=child_env())
            took = time.monotonic() - t0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    assert p.returncode == 5, (p.returncode, p.stderr)
    assert ("ethox-uk: dhcp: no DHCP server answered 2 DISCOVERs within 5 s (MAC "
            "52:54:00:12:34:56): no address, exiting with status 5. Check that a DHCP server "
            "serves this network") in p.stderr, p.stderr
    assert 4.5 < took < 30, took


def test_host_sigterm_while_asking_ends_cleanly():
    echo = APP.parents[2] / "images" / "echo"
    with BridgeNet() as br:
        h = HostProcess(echo, "tap:tap0", ["--ip", "dhcp"], prefix=br.prefix()).start()
        time.sleep(2.0)
        assert h.proc.poll() is None
        h.proc.send_signal(signal.SIGTERM)
        assert h.proc.wait(10) == 0
