"""`ethox-uk conformance (--image IMAGE | --host RECIPE | --attach SPEC | --linux) [NETOPTS]
[VMOPTS] [--junit F] [--json F] [--html F] [--tap F] [--summary-md F] [--strict]
[--clock-slack FRACTION] [-k EXPR] [--smoke] [--list]` and `--compare A.json B.json`
(DESIGN §5 and its additions of 2026-12-04; --linux, --strict and --clock-slack are this
command's own).

    run(...) -> exit status        the whole command, callable from Python and tests
    conformance                    the click command (cli/__init__.py adds it to the group)

Exit status: 0 when no MUST failed (verdict "fail"; with --strict also no SHOULD: verdict
"deviates"); 1 otherwise (or when an expected failure passed); 2 for bad options or a target
that could not be started or reached (the message says which; the selected checks are then
reported as failed in --junit/--json, so CI shows them).
--pcap FILE records every frame the suite sends and receives. Without --net, --host/--image
use a fresh directory under /tmp for the two sockets (removed afterwards).
Environment: ETHOX_UK_CONFORMANCE_TIMESCALE multiplies every wait and time bound (default 1;
2 for --image under TCG, 1 under KVM).
"""

import os
import sys
import time

import click

from ..netspec import parse_spec
from .options import netopts
from .options import vmopts

TIMESCALE_ENV = "ETHOX_UK_CONFORMANCE_TIMESCALE"


def _timescale(default):
    v = os.environ.get(TIMESCALE_ENV)
    if not v:
        return default
    try:
        f = float(v)
        if f <= 0:
            raise ValueError
        return f
    except ValueError:
        raise click.BadParameter("%s=%r: expected a positive number" % (TIMESCALE_ENV, v))


def select_checks(kexpr=None, smoke=False):
    """The checks to run: all (or registry.SMOKE with smoke=True), then -k EXPR."""
    from ..conformance.kexpr import select
    from ..conformance.registry import SMOKE, all_checks

    checks = all_checks()
    if smoke:
        checks = [c for c in checks if c.name in SMOKE]
    return select(checks, kexpr)


def make_target(image=None, host=None, attach=None, net=None, accel=None, machine=None,
                mem=None, faults=(), linux=False):
    from ..conformance.target import AttachTarget, HostTarget, IfaceTarget, LinuxTarget, image_target

    spec = net.spec if net is not None else None
    kw = dict(ip=net.ip if net else None, gw=net.gw if net else None,
              mac=net.mac if net else None)
    if host is not None:
        return HostTarget(host, spec, faults=faults, **kw)
    if image is not None:
        return image_target(image, spec, accel=accel, machine=machine, mem=mem, **kw)
    if linux:
        return LinuxTarget(**kw)
    if isinstance(attach, str) and attach.startswith("iface:"):
        return IfaceTarget(attach[len("iface:"):], **kw)
    return AttachTarget(attach, **kw)


def run(image=None, host=None, attach=None, net=None, accel=None, machine=None, mem=None,
        junit=None, json_path=None, kexpr=None, list_only=False, faults=(), out=None,
        timescale=None, smoke=False, linux=False, strict=False, slack=None, html=None,
        tap=None, summary_md=None):
    """Run the command; returns the exit status. `attach` is a SPEC string or NetSpec."""
    from ..conformance import formats
    from ..conformance.report import console, print_list, print_results, write_json, write_junit
    from ..conformance.rfcs import print_rfc_summary, rfc_summary
    from ..conformance.session import Result, Session, summary_line, verdict_line
    from ..conformance.target import TargetError

    con = console(out)
    try:
        checks = select_checks(kexpr, smoke)
    except ValueError as e:
        con.print("ethox-uk conformance: error: %s" % e, markup=False)
        return 2
    if list_only:
        print_list(checks, con)
        return 0
    if not checks:
        con.print("ethox-uk conformance: error: -k %r selects no check (see --list)" % kexpr,
                  markup=False)
        return 2
    try:
        target = make_target(image, host, attach, net, accel, machine, mem, faults, linux)
    except TargetError as e:
        con.print("ethox-uk conformance: error: %s" % e, markup=False)
        return 2
    if timescale is None:  # images: 1 under KVM, 2 under TCG (ImageTarget.timescale)
        timescale = _timescale(getattr(target, "timescale", 1.0))
    if slack is None:  # the target's own: 0.1 on real time, 0.25 for TCG guests
        slack = getattr(target, "clock_slack", None)
    pcap = net.pcap if net is not None else None
    t0 = time.monotonic()
    desc = target.describe()
    status = 0

    def progress(r):
        if r.status == "fail":
            con.print("  [red]FAIL[/] %s: %s" % (r.check.name, r.message), highlight=False)

    try:
        with Session(target, pcap=pcap, timescale=timescale, slack=slack) as s:
            desc = target.describe() + " (%s %s)" % (target.ip, target.mac)
            results = s.run(checks, on_result=progress)
    except TargetError as e:
        con.print("ethox-uk conformance: error: %s" % e, markup=False)
        results = [Result(c, "fail", "not run: %s" % str(e).split("\n")[0]) for c in checks]
        status = 2
    except KeyboardInterrupt:
        con.print("ethox-uk conformance: interrupted", markup=False)
        return 130
    elapsed = time.monotonic() - t0
    rows = rfc_summary(results)
    if status == 0:
        print_results(results, con, desc)
        print_rfc_summary(rows, con)
    if junit:
        write_junit(results, junit, desc, elapsed, strict)
    if json_path:
        write_json(results, json_path, desc, elapsed, strict)
    if tap:
        formats.write_tap(results, tap, desc, strict)
    if summary_md:
        formats.write_markdown(results, summary_md, desc, elapsed, strict)
    if html:
        formats.write_html(results, html, desc, elapsed, strict, pcap)
    con.print("%d checks in %.1f s against %s" % (len(results), elapsed, desc), markup=False)
    con.print(verdict_line(results) + (" (--strict: deviations count as failures)"
                                       if strict else ""), markup=False)
    # the summary line: plain text, exactly this format, last on stdout
    con.print(summary_line(results, strict), markup=False)
    if status:
        return status
    return 1 if any(r.counts_as_failure(strict) for r in results) else 0


# -- click ----------------------------------------------------------------------------

def _cb_attach(ctx, param, value):
    if value is None:
        return None
    if value.startswith("iface:"):
        from ..conformance.links import parse_iface

        try:
            parse_iface(value[len("iface:"):])
        except ValueError as e:
            raise click.BadParameter(str(e), ctx, param) from None
        return value
    try:
        spec = parse_spec(value)
    except ValueError as e:
        raise click.BadParameter(str(e), ctx, param) from None
    if spec.kind != "dgram":
        raise click.BadParameter("conformance attaches over unix datagram sockets (the "
                                 "target's dgram:LOCAL,REMOTE) or to a local interface "
                                 "(iface:IFNAME[@NETNS])", ctx, param)
    return spec


def _cb_out(ctx, param, value):
    if value is None:
        return None
    parent = os.path.dirname(os.path.abspath(value))
    if not os.path.isdir(parent):
        raise click.BadParameter("directory %s does not exist" % parent, ctx, param)
    if os.path.isdir(value):
        raise click.BadParameter("%s is a directory: give a file name" % value, ctx, param)
    return value


@click.command("conformance")
@click.option("--image", metavar="IMAGE", help="Boot IMAGE (ethox-uk run) and check it.")
@click.option("--host", "host_recipe", metavar="RECIPE",
              help="Run RECIPE in host mode (ethox-uk host) and check it, e.g. images/echo.")
@click.option("--attach", metavar="SPEC", callback=_cb_attach,
              help="Check a stack already running: on the very dgram:LOCAL,REMOTE it was "
                   "started with, or behind a local interface, iface:IFNAME[@NETNS] (a "
                   "veth or tap, optionally in a network namespace; root).")
@click.option("--linux", is_flag=True,
              help="Check the Linux kernel's own stack: a private namespace with the echo "
                   "recipe's services on kernel sockets, reached over a veth (root).")
@netopts
@vmopts
@click.option("--junit", metavar="F", callback=_cb_out, help="Write JUnit XML to F.")
@click.option("--json", "json_path", metavar="F", callback=_cb_out,
              help="Write the results as JSON to F ('-': the JSON alone on stdout, the "
                   "table on stderr).")
@click.option("-k", "kexpr", metavar="EXPR",
              help="Only checks whose name matches EXPR: substrings combined with and/or/"
                   "not and parentheses, e.g. -k 'icmp and not echo'.")
@click.option("--smoke", is_flag=True,
              help="Only the smoke subset (about 20 checks from every group; with -k: "
                   "those of them that match).")
@click.option("--strict", is_flag=True,
              help="Count deviations (a SHOULD not met) as failures: in the exit status, the "
                   "summary line, JUnit and TAP.")
@click.option("--clock-slack", "slack", type=click.FloatRange(0, 0.9), metavar="FRACTION",
              help="How far the target's timers may run fast or slow (0.1 = 10 %; default: "
                   "0.1, 0.25 for an image under TCG, 0.25 for --attach).")
@click.option("--html", metavar="F", callback=_cb_out,
              help="Write one self-contained HTML page: table, transcripts, link to --pcap.")
@click.option("--tap", metavar="F", callback=_cb_out, help="Write TAP version 14 to F.")
@click.option("--summary-md", "summary_md", metavar="F", callback=_cb_out,
              help="Write a Markdown summary to F (for a CI job summary).")
@click.option("--compare", nargs=2, metavar="A.json B.json",
              help="Print the checks whose verdicts differ between two --json files (no "
                   "target is run); exit 1 when some differ.")
@click.option("--list", "list_only", is_flag=True, help="List the checks and exit.")
def conformance(image, host_recipe, attach, linux, net, vm, junit, json_path, kexpr, smoke,
                strict, slack, html, tap, summary_md, compare, list_only):
    """Check a running stack clause by clause (ARP, IPv4, ICMP, UDP, TCP) with scapy.

    Every check has a requirement level (MUST/SHOULD/MAY) and ends in a verdict: pass,
    variant (another RFC or a SHOULD allows it), deviates (a SHOULD not met), fail (a MUST
    not met) or n/a. Exit status 0 when no MUST failed (--strict: no SHOULD either), 1
    otherwise, 2 when the target could not be started or reached. Prints a table, a per-RFC
    summary and the line `conformance: N passed, N failed, N skipped` (failed: what the
    exit status counts; skipped: n/a + expected failures). VMOPTS apply to --image.

    \b
    Examples:
      ethox-uk conformance --host images/echo
      ethox-uk conformance --image build/echo.elf --smoke --json - | jq .summary
      ethox-uk conformance --attach dgram:/tmp/s.sock,/tmp/p.sock -k 'tcp and not timers'
    """
    if compare:
        sys.exit(run_compare(*compare))
    chosen = [n for n, v in (("--image", image), ("--host", host_recipe),
                             ("--attach", attach), ("--linux", linux or None))
              if v is not None]
    if len(chosen) != 1 and not list_only:
        raise click.UsageError("give exactly one of --image IMAGE, --host RECIPE, --attach "
                               "SPEC, --linux" + (" (not %s)" % " and ".join(chosen)
                                                  if chosen else ""))
    if (attach is not None or linux) and net.spec is not None:
        raise click.UsageError("%s already names the link: drop --net" % chosen[0])
    from ..jsonout import run as json_to

    sys.exit(json_to(json_path, lambda path: run(
        image=image, host=host_recipe, attach=attach, net=net, accel=vm.accel,
        machine=vm.machine, mem=vm.mem, junit=junit, json_path=path, kexpr=kexpr,
        list_only=list_only, smoke=smoke, linux=linux, strict=strict, slack=slack, html=html,
        tap=tap, summary_md=summary_md)))


def run_compare(a_path, b_path, out=None):
    from ..conformance.compare import CompareError, load, print_compare
    from ..conformance.report import console

    con = console(out)
    try:
        a, b = load(a_path), load(b_path)
    except CompareError as e:
        con.print("ethox-uk conformance: error: %s" % e, markup=False)
        return 2
    return print_compare(a_path, b_path, a, b, con)
