"""The check registry: one decorated function per check, one module per group.

    from ..registry import check

    @check("arp.reply_to_request", "answers an ARP request for its own address",
           rfc="RFC 826", accepts="a unicast reply to the requester", timeout=3)
    def reply_to_request(ctx):
        ...                                   # ctx.fail(...) / ctx.require(...) on a violation

Requirement levels and verdicts. Every check names the level of the requirement
it tests, from the RFC text: `level=MUST`, `SHOULD` or `MAY`. A check ends in one verdict:

    pass       the target did what the clause asks
    variant    it did something another RFC, or a SHOULD's latitude, allows: the check
               called ctx.variant(KEY, detail) with a KEY declared in `variants`
    deviates   a SHOULD (or MAY) was not met: ctx.require/ctx.fail in a SHOULD/MAY check,
               or ctx.should(...) in a MUST check
    fail       a MUST was not met: ctx.require/ctx.fail in a MUST check, ctx.must(...) in
               any check, a time bound passed, an AssertionError or any other exception
    n/a        `applies(ctx)` returned false, or the check called ctx.not_applicable()
    xfail      a strict expected failure (`xfail=REASON`; a pass is then a fail)

`variants` = {KEY: "what is accepted, and which RFC or SHOULD allows it"}; a check that
declares any names its `negative` controls too: the fault switches (faults.FAULTS) or relay
mutations (tests/conformance/mutations_ip.py, mutations_tcp.py) under which it must still fail, outside every
accepted behaviour. `accepts` stays the one-line summary of everything accepted.
"""

import importlib
import re

# Group modules under checks/, in the order they run (lower layers first).
LOWER_GROUPS = ("arp", "ipv4", "icmp", "udp")
IPV6_GROUPS = ("ipv6", "icmpv6", "ndp")
TCP_GROUPS = ("tcp_handshake", "tcp_options", "tcp_data", "tcp_close", "tcp_rst",
              "tcp_timers", "tcp_congestion", "tcp_review")
APP_GROUPS = ("dhcp", "dns")  # the stack's own clients (DHCP with fresh targets)
GROUPS = LOWER_GROUPS + IPV6_GROUPS + TCP_GROUPS + APP_GROUPS  # the checks/ modules, in running order

# The smoke subset (`--smoke`, for CI): a few checks from every group, for the slow
# or unusual configurations (TCG, q35, the bridge path); the full suite runs elsewhere.
SMOKE = (
    "arp.reply_to_request", "arp.ignore_request_for_other_ip",
    "ipv4.bad_header_checksum_dropped", "ipv4.fragments_out_of_order",
    "ipv4.options_record_route_echo",
    "icmp.echo_reply_identity", "icmp.echo_reply_1472", "icmp.echo_burst",
    "udp.echo_identity", "udp.port_unreachable", "udp.bad_checksum_dropped",
    "ipv6.echo_link_local", "ipv6.fragments_reassembled", "icmpv6.port_unreachable",
    "ndp.ns_answered",
    "tcp_handshake.syn_gets_synack", "tcp_handshake.syn_to_closed_port_rst",
    "tcp_options.mss_in_synack", "tcp_options.segments_fit_mtu",
    "tcp_data.echo_integrity", "tcp_data.reassembly_out_of_order",
    "tcp_close.passive_close", "tcp_close.half_close_keeps_sending",
    "tcp_rst.rst_exact_closes",
    "tcp_timers.initial_rto",
    "tcp_congestion.fast_retransmit",
    "tcp_review.data_after_close_reset",
    "dhcp.request_after_offer", "dns.ignores_mismatched_answers",
)

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
DEFAULT_TIMEOUT = 5.0  # seconds, each check's time bound unless it gives its own

_REGISTRY = {}  # name -> Check, in registration order


class CheckFailed(Exception):
    """The target violated the clause; the message says how."""


class NotApplicable(Exception):
    """The target does not offer the optional feature the check is about."""


class CheckTimeout(CheckFailed):
    """The check ran past its time bound."""


class MustFailed(CheckFailed):
    """A MUST was not met, whatever the check's own level (ctx.must)."""


MUST, SHOULD, MAY = "MUST", "SHOULD", "MAY"
LEVELS = (MUST, SHOULD, MAY)
# verdicts, worst first; VIOLATION: what a check's own level turns a violation into
VERDICTS = ("fail", "deviates", "variant", "pass", "n/a", "xfail")
VIOLATION = {MUST: "fail", SHOULD: "deviates", MAY: "deviates"}


class Check:
    def __init__(self, name, func, description, rfc, accepts=None, applies=None,
                 timeout=DEFAULT_TIMEOUT, xfail=None, tags=(), level=MUST, variants=None,
                 negative=()):
        self.name = name
        self.level = level
        self.variants = dict(variants or {})
        self.negative = tuple(negative)
        self.group = name.split(".", 1)[0]
        self.short = name.split(".", 1)[1]
        self.func = func
        self.description = description
        self.rfc = rfc
        self.accepts = accepts
        self.applies = applies
        self.timeout = float(timeout)
        self.xfail = xfail
        self.tags = tuple(tags)

    def keywords(self):
        """What -k matches against: the name (group.short) and the tags."""
        return (self.name,) + self.tags

    def as_dict(self):
        return {"name": self.name, "group": self.group, "description": self.description,
                "rfc": self.rfc, "accepts": self.accepts, "timeout": self.timeout,
                "xfail": self.xfail, "optional": self.applies is not None,
                "tags": list(self.tags), "level": self.level, "variants": self.variants,
                "negative": list(self.negative)}

    def __repr__(self):
        return "Check(%r)" % self.name


def check(name, description, rfc, level=None, accepts=None, applies=None,
          timeout=DEFAULT_TIMEOUT, xfail=None, tags=(), variants=None, negative=(),
          registry=None):
    """Register the decorated function as the check `name` ("group.what")."""
    if not _NAME_RE.match(name):
        raise ValueError("check name %r: expected group.what in lower case" % name)
    if not description or "\n" in description:
        raise ValueError("check %s: the description is one line" % name)
    if not rfc or not rfc.startswith("RFC "):
        raise ValueError("check %s: cite the clause, e.g. 'RFC 1122 §3.2.1.2'" % name)
    if timeout <= 0:
        raise ValueError("check %s: the time bound must be positive" % name)
    if xfail is not None and not str(xfail).strip():
        raise ValueError("check %s: an expected failure carries its reason" % name)
    if level not in LEVELS:
        raise ValueError("check %s: name the requirement level from the RFC text: level=MUST, "
                         "SHOULD or MAY (got %r)" % (name, level))
    for key, text in (variants or {}).items():
        if not key or not text or "RFC" not in text:
            raise ValueError("check %s: variant %r must say what is accepted and which RFC "
                             "allows it" % (name, key))
    if variants and not negative:
        raise ValueError("check %s: a check with accepted variants names its negative "
                         "controls (negative=(fault or mutation names))" % name)
    reg = _REGISTRY if registry is None else registry

    def deco(func):
        if name in reg:
            raise ValueError("check %s registered twice" % name)
        reg[name] = Check(name, func, description, rfc, accepts, applies, timeout, xfail,
                          tags, level, variants, negative)
        return func

    return deco


def load_groups(groups=GROUPS):
    """Import every group module (registering its checks); returns all checks in order."""
    for g in groups:
        importlib.import_module("ethox_uk.conformance.checks." + g)
    order = {g: i for i, g in enumerate(groups)}
    checks = [c for c in _REGISTRY.values() if c.group in order]
    for c in checks:
        mod = c.func.__module__.rsplit(".", 1)[-1]
        if mod != c.group:
            raise ValueError("check %s lives in %s.py; a check lives in its group's file"
                             % (c.name, mod))
    checks.sort(key=lambda c: order[c.group])  # stable: registration order in a group
    return checks


def all_checks():
    return load_groups()
