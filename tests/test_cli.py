"""The CLI surface (DESIGN §5): NETOPTS/SPEC parsing (ethox_uk.netspec) and one-line usage
errors with status 2. End-to-end runs of `host`, `demo` and `bench` live in tests/e2e."""

import os
import shutil
import tempfile

import click
import pytest
from click.testing import CliRunner

from ethox_uk import cli
from ethox_uk.cli.options import netopts
from ethox_uk.netspec import NetOpts, NetSpec, parse_spec


@pytest.fixture
def sockdir():
    d = tempfile.mkdtemp(prefix="exc", dir="/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def invoke(*args):
    return CliRunner().invoke(cli.main, list(args), prog_name="ethox-uk")


# -- SPEC -----------------------------------------------------------------------------

def test_dgram_spec(sockdir):
    a, b = os.path.join(sockdir, "a"), os.path.join(sockdir, "b")
    s = parse_spec("dgram:%s,%s" % (a, b))
    assert (s.kind, s.local, s.remote) == ("dgram", a, b)
    assert s.text == "dgram:%s,%s" % (a, b) and s.format() == s.text
    assert s.peer() == NetSpec("dgram", b, a)
    assert s.qemu_netdev() == ("dgram,id=n0,local.type=unix,local.path=%s,remote.type=unix,"
                               "remote.path=%s" % (a, b))


def test_tap_and_bridge_specs():
    t = parse_spec("tap:tap0")
    assert (t.kind, t.ifname) == ("tap", "tap0")
    assert t.qemu_netdev("x") == "tap,id=x,ifname=tap0,script=no,downscript=no"
    b = parse_spec("bridge")
    assert b.kind == "bridge" and b.text == "bridge"
    with pytest.raises(ValueError, match="no single -netdev"):
        b.qemu_netdev()
    with pytest.raises(ValueError, match="only a dgram SPEC"):
        t.peer()


@pytest.mark.parametrize("text,message", [
    ("", "unknown network ''"),
    ("udp:1,2", "unknown network 'udp:1,2': expected dgram:LOCAL,REMOTE | tap:IFNAME | bridge"),
    ("dgram:/tmp/a", "write dgram:LOCAL,REMOTE (two socket paths, the stack's first)"),
    ("dgram:/tmp/a,/tmp/b,/tmp/c", "write dgram:LOCAL,REMOTE"),
    ("dgram:,/tmp/b", "LOCAL path is empty"),
    ("dgram:/tmp/a,/tmp/a", "the same path"),
    ("dgram:/tmp/" + "x" * 95 + ",/tmp/b", "LOCAL socket path is 100 bytes, the limit is 99"),
    ("dgram:/tmp/a,/tmp/" + "y" * 200, "REMOTE socket path is 205 bytes"),
    ("dgram:/no/such/dir/a,/tmp/b", "LOCAL socket directory /no/such/dir does not exist"),
    ("tap:", "bad interface name ''"),
    ("tap:abcdefghijklmnop", "e.g. tap:tap0"),
    ("bridge:br0", "'bridge' takes no argument"),
])
def test_bad_specs_say_what_to_write(text, message):
    with pytest.raises(ValueError) as e:
        parse_spec(text)
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_socket_path_of_99_bytes_is_accepted():
    p = "/tmp/" + "x" * 94
    assert len(p) == 99
    assert parse_spec("dgram:%s,/tmp/b" % p).local == p


# -- NetOpts ----------------------------------------------------------------------------

def test_netopts_config_and_boot_words():
    o = NetOpts(ip="10.1.0.5/16", mac="02:00:00:00:00:01")
    c = o.config("ip=10.0.2.15/24 gw=10.1.0.1 greeting=hi")
    assert c.ready_line() == "ethox-uk: ready ip=10.1.0.5 mac=02:00:00:00:00:01"
    assert c.prefix == 16 and c.words["greeting"] == "hi"
    assert o.boot_words("ip=10.0.2.15/24 gw=10.1.0.1 greeting=hi") == \
        "gw=10.1.0.1 greeting=hi ip=10.1.0.5/16 mac=02:00:00:00:00:01"
    assert NetOpts().boot_words("ip=1.2.3.4/8 x=y") == "ip=1.2.3.4/8 x=y"
    with pytest.raises(ValueError, match="not inside"):
        NetOpts(gw="192.168.0.1").config("")


def test_netopts_dhcp_and_dns():
    o = NetOpts(ip="dhcp", dns="10.0.2.3,10.0.2.4")
    c = o.config("ip=10.0.2.15/24 gw=10.0.2.2")
    assert c.dhcp and c.dns == [bytes([10, 0, 2, 3]), bytes([10, 0, 2, 4])]
    assert o.boot_words("ip=10.0.2.15/24 gw=10.0.2.2 dns=1.1.1.1") == \
        "gw=10.0.2.2 ip=dhcp dns=10.0.2.3,10.0.2.4"
    assert o.with_spec(None).boot_words("") == "ip=dhcp dns=10.0.2.3,10.0.2.4"


def test_netopts_decorator_hands_one_object(sockdir):
    seen = {}

    @click.command()
    @netopts
    def cmd(net):
        seen["net"] = net

    spec = "dgram:%s/s,%s/p" % (sockdir, sockdir)
    r = CliRunner().invoke(cmd, ["--net", spec, "--ip", "10.0.2.20/24", "--gw", "10.0.2.1",
                                 "--mac", "02-AA-00-00-00-01", "--pcap",
                                 os.path.join(sockdir, "x.pcap")])
    assert r.exit_code == 0, r.output
    n = seen["net"]
    assert n.spec == parse_spec(spec) and n.ip == "10.0.2.20/24" and n.gw == "10.0.2.1"
    assert n.mac == "02:aa:00:00:00:01" and n.pcap.endswith("x.pcap")
    r = CliRunner().invoke(cmd, [])
    assert r.exit_code == 0 and seen["net"].spec is None


# -- the command line -------------------------------------------------------------------

def error_line(r):
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1, r.output
    return lines[0]


@pytest.mark.parametrize("args,message", [
    (["host"], "ethox-uk host: error: Missing argument 'RECIPE'."),
    (["host", "images/echo", "--net", "dgram:x"], "Invalid value for '--net': 'dgram:x': write"),
    (["host", "images/echo", "--ip", "10.0.2"], "Invalid value for '--ip': bad IPv4 address "
                                                "'10.0.2': expected a.b.c.d (e.g. --ip 10.0.2.15/24, or --ip dhcp)"),
    (["host", "images/echo", "--ip", "10.0.2.15/33"], "bad prefix"),
    (["host", "images/echo", "--gw", "gateway"], "Invalid value for '--gw': bad IPv4 address "
                                                 "'gateway': expected a.b.c.d (e.g. --gw "
                                                 "10.0.2.2)"),
    (["host", "images/echo", "--dns", "10.0.2"], "Invalid value for '--dns': dns=10.0.2: bad "
                                                 "IPv4 address"),
    (["host", "images/echo", "--dns", "10.0.2"], "(e.g. --dns 10.0.2.3)"),
    (["host", "images/echo", "--ip", "dhcpx"], "Invalid value for '--ip'"),
    (["host", "images/echo", "--mac", "52:54:00:12:34"], "expected xx:xx:xx:xx:xx:xx (e.g. "
                                                         "--mac 52:54:00:12:34:56)"),
    (["host", "images/echo", "--mac", "03:00:00:00:00:01"], "multicast"),
    (["host", "images/echo", "--pcap", "/no/such/dir/x.pcap"], "directory /no/such/dir does "
                                                               "not exist"),
    (["host", "images/echo", "--pcap", "/tmp"], "is a directory"),
    (["host", "images/echo", "--frobnicate"], "No such option"),
    (["hots"], "No such command 'hots'"),
    (["bench", "--count", "1"], "Invalid value for '--count'"),
])
def test_usage_errors_are_one_line_with_status_2(args, message):
    r = invoke(*args)
    assert r.exit_code == 2, r.output
    line = error_line(r)
    assert message in line, line
    assert line.startswith("ethox-uk")
    assert "--help" in line


def test_option_callbacks_keep_the_value_or_say_how_it_looks():
    from ethox_uk.cli import options

    assert options._cb_mac(None, None, "52-54-00-AB-CD-EF") == "52:54:00:ab:cd:ef"
    assert options._cb_mem(None, None, " 64m ") == "64M"
    assert options._cb_ip(None, None, "dhcp") == "dhcp"
    assert options._cb_ip(None, None, "10.0.2.15/24") == "10.0.2.15/24"
    assert options._cb_gw(None, None, None) is None
    assert options._cb_spec(None, None, "dgram:/tmp/a,/tmp/b").kind == "dgram"
    with pytest.raises(click.BadParameter) as e:
        options._cb_mem(None, None, "12Q")
    assert "'12Q' is not a size" in str(e.value) and str(e.value).endswith("(e.g. --mem 64M)")
    with pytest.raises(click.BadParameter) as e:
        options._cb_publish(None, None, ("8080:80", "8080:81"))
    assert "give each its own host port" in str(e.value)


def test_help_and_version():
    r = invoke("--help")
    assert r.exit_code == 0
    for name in ("host", "demo", "bench"):
        assert name in r.output
    r = invoke("host", "--help")
    assert r.exit_code == 0 and "--net SPEC" in r.output and "--pcap FILE" in r.output
    r = invoke("--version")
    assert r.exit_code == 0 and "0.1.0" in r.output


def test_host_errors_before_binding_anything(sockdir):
    spec = "dgram:%s/s,%s/p" % (sockdir, sockdir)
    r = invoke("host", "images/echo")
    assert r.exit_code == 2
    assert "host mode needs --net" in error_line(r)
    r = invoke("host", "images/echo", "--net", "bridge")
    assert r.exit_code == 2 and "--net bridge is for VM images" in error_line(r)
    r = invoke("host", os.path.join(sockdir, "nope"), "--net", spec)
    assert r.exit_code == 2 and "no such recipe" in error_line(r)
    r = invoke("host", "images/echo", "--net", spec, "--gw", "10.9.9.9")
    assert r.exit_code == 2 and "gateway 10.9.9.9 is not inside 10.0.2.15/24" in error_line(r)
    assert os.listdir(sockdir) == []


def test_host_reports_a_file_in_the_way(sockdir):
    with open(os.path.join(sockdir, "s"), "w") as f:
        f.write("not a socket")
    r = invoke("host", "images/echo", "--net", "dgram:%s/s,%s/p" % (sockdir, sockdir))
    assert r.exit_code == 2
    assert "exists and is not a socket" in error_line(r)


def test_every_command_has_an_example_and_no_internal_document_reference():
    for name in sorted(cli.main.commands):
        r = invoke(name, "--help")
        assert r.exit_code == 0, name
        assert "Example" in r.output, name + ": no example in its help"
        for internal in ("DESIGN", "ARCHITECTURE", "§5", "issue "):
            assert internal not in r.output, "%s --help mentions %s" % (name, internal)


def test_shell_completion_script_is_generated():
    # the command README's "Shell completion" section tells users to run
    import subprocess
    import sys

    env = dict(os.environ, _ETHOX_UK_COMPLETE="bash_source")
    r = subprocess.run([sys.executable, "-c", "from ethox_uk.cli import main; "
                        "main(prog_name='ethox-uk')"], env=env, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    assert b"_ethox_uk_completion" in r.stdout and b"complete " in r.stdout
    env = dict(os.environ, _ETHOX_UK_COMPLETE="bash_complete", COMP_WORDS="ethox-uk ne",
               COMP_CWORD="1")
    r = subprocess.run([sys.executable, "-c", "from ethox_uk.cli import main; "
                        "main(prog_name='ethox-uk')"], env=env, capture_output=True, timeout=60)
    assert b"new" in r.stdout, r.stdout
