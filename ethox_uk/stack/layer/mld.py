# MLDv2 for a host (RFC 3810): reports for the groups we join, so switches
# that snoop and routers keep forwarding them (the solicited-node groups
# neighbour discovery needs).
#
# A join or leave (ip6.join/leave) sends a State Change Report at once --
# CHANGE_TO_EXCLUDE({}) for a join, CHANGE_TO_INCLUDE({}) for a leave -- and
# again ROBUSTNESS - 1 times at random moments within UNSOLICITED_MS (§6.1).
# A query from a link-local source with hop limit 1 (§5.1.14; MLDv1 queries
# too, answered in version 2: we keep no compatibility mode) schedules a
# Current State Report of every group (MODE_IS_EXCLUDE) at a random moment
# within its Maximum Response Delay; a query for a group we are not in is
# ignored. Never reported (§6): ff02::1 and groups of scope 0 and 1.
# Reports go to ff02::16 with hop limit 1 and a Router Alert option, from our
# link-local address, or from :: before it has one (RFC 3590 §4).
from ..compat import const
from ..wire import icmp6 as _m
from ..wire import ipv6 as _w
from . import ip6 as _ip6
from .ip6 import PAYLOAD_OFF

ROBUSTNESS = const(2)
UNSOLICITED_MS = const(1000)
_CHANGE_TO_INCLUDE = const(3)
_CHANGE_TO_EXCLUDE = const(4)
_MODE_IS_EXCLUDE = const(2)
_MAX_RECORDS = const(60)  # 20 bytes each: a report stays within 1280 bytes

ALL_MLDV2_ROUTERS = b"\xff\x02" + b"\x00" * 13 + b"\x16"


class MldLayer:
    def __init__(self, stack):
        self.stack = stack
        self.ip6 = stack.ip6
        self.c = stack.counters.c
        self.changes = []  # [group, record type, transmissions left]
        self.change_at = -1
        self.report_at = -1
        self.timer_at = -1

    @staticmethod
    def reportable(g):
        return g[1] & 15 >= 2 and not _w.addr_eq(g, 0, _ip6.ALL_NODES)

    def changed(self, g, joined, now):
        if not self.reportable(g):
            return
        for r in self.changes:
            if r[0] == g:
                self.changes.remove(r)
                break
        self.changes.append([g, _CHANGE_TO_EXCLUDE if joined else _CHANGE_TO_INCLUDE,
                             ROBUSTNESS])
        self._send_changes(now)

    def _send_changes(self, now):
        recs = []
        keep = []
        for r in self.changes:
            recs.append((r[0], r[1]))
            r[2] -= 1
            if r[2] > 0:
                keep.append(r)
        self.changes = keep
        if recs:
            self._report(recs, now)
        self.change_at = now + 1 + self.stack.nd._rand(UNSOLICITED_MS) if keep else -1
        self._arm()

    def _arm(self):
        t = -1
        for d in (self.change_at, self.report_at):
            if d >= 0 and (t < 0 or d < t):
                t = d
        self.timer_at = t
        if t >= 0:
            self.ip6.arm(t)

    def _report(self, recs, now):
        ip6 = self.ip6
        tx = ip6.send_begin()
        if tx is None:
            return False
        h = PAYLOAD_OFF
        # Hop-by-Hop: Router Alert (RFC 2711, value 0: MLD) and a 2-byte PadN
        tx[h] = 58
        tx[h + 1] = 0
        tx[h + 2] = _w.OPT_ROUTER_ALERT
        tx[h + 3] = 2
        tx[h + 4] = 0
        tx[h + 5] = 0
        tx[h + 6] = _w.OPT_PADN
        tx[h + 7] = 0
        p = h + 8
        tx[p] = _m.MLD2_REPORT
        tx[p + 1] = 0
        tx[p + 4] = 0
        tx[p + 5] = 0
        n = len(recs)
        tx[p + 6] = n >> 8
        tx[p + 7] = n & 255
        q = p + 8
        for g, t in recs:
            tx[q] = t
            tx[q + 1] = 0
            tx[q + 2] = 0
            tx[q + 3] = 0
            for k in range(16):
                tx[q + 4 + k] = g[k]
            q += 20
        src = ip6.link_local()
        if src is None:
            src = _ip6.UNSPECIFIED
        ln = q - p
        _w.write_header(tx, 14, 8 + ln, 0, 1, src, ALL_MLDV2_ROUTERS)
        _m.fill_checksum(tx, 14, p, q)
        self.c["mld_reports_sent"] += 1
        return ip6.send_finish(tx, ALL_MLDV2_ROUTERS, 0, 8 + ln, now, src, 1)

    def receive_query(self, view, o, p, end, now):
        c = self.c
        n = end - p
        if not _w.is_link_local(view, o + 8) or view[o + 7] != 1 or n < 24:
            c["mld_bad_query"] += 1
            return 0
        c["mld_queries_rx"] += 1
        ip6 = self.ip6
        g = p + 8
        if not _w.is_unspecified(view, g) and not ip6.is_member(view, g):
            return 0
        mrc = (view[p + 4] << 8) | view[p + 5]
        if n >= 28 and mrc >= 32768:  # RFC 3810 §5.1.3: a floating-point code
            mrc = ((mrc & 0xFFF) | 0x1000) << (((mrc >> 12) & 7) + 3)
        t = now + self.stack.nd._rand(mrc + 1)
        if self.report_at < 0 or t < self.report_at:
            self.report_at = t
            self._arm()
        return 0

    def poll(self, now):
        if 0 <= self.change_at <= now:
            self._send_changes(now)
        if 0 <= self.report_at <= now:
            self.report_at = -1
            recs = []
            for g in self.ip6.groups:
                if self.reportable(g) and len(recs) < _MAX_RECORDS:
                    recs.append((g, _MODE_IS_EXCLUDE))
            if recs:
                self._report(recs, now)
        self._arm()
