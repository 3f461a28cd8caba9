"""A fresh DHCP client for one check: the target's kind started anew with `--ip dhcp` on a
link of its own, the check playing the DHCP server on it.

    with ctx.dhcp_client() as cl:       # n/a when the target cannot be started afresh
        f = cl.expect(cl.is_dhcp(DISCOVER), "a DHCPDISCOVER", 5)
        cl.send(...)                     # cl is a Ctx over the client's link: the same
                                         # builders, matchers and verdict helpers
The client's frames go into the check's transcript and pcap (SidePeer); the process is
stopped and its sockets removed on exit, whatever happened.
"""

from .context import Ctx
from .peer import SidePeer
from .target import TargetError

START_TIMEOUT = 30.0


class ClientRun:
    def __init__(self, ctx, target):
        self.ctx = ctx
        self.target = target
        self.link_ctx = None

    def __enter__(self):
        ctx = self.ctx
        t = self.target
        try:
            t.prepare()
            peer = SidePeer(t.open_link(), ctx.peer, ctx.peer_mac, ctx.peer_ip)
            t.start(START_TIMEOUT, wait_ready=False)
        except TargetError as e:
            self.close()
            ctx.fail("could not start a DHCP client of the target's kind: %s" % e)
        except BaseException:
            self.close()
            raise
        c = Ctx(peer, ctx.target_ip, ctx.target_mac, ctx.peer_ip, ctx.peer_mac, ctx.prefix,
                ctx.timescale, slack=ctx.slack)
        c.findings = ctx.findings  # SHOULDs and variants count for the check
        c.client = self
        self.link_ctx = c
        ctx.note("a fresh DHCP client: %s" % t.describe())
        return c

    def exit_status(self):
        return self.target.exit_status()

    def output(self):
        return self.target.output_tail()

    def close(self):
        t = self.target
        try:
            t.stop()
        finally:
            if self.link_ctx is not None:
                self.link_ctx.peer.close()
            t.cleanup()

    def __exit__(self, *exc):
        self.close()
