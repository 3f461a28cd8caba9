# Idle timeouts for the stack's services: one timer per stack (a Stack.add_timer
# object) over every connection that can time out, so an idle guest wakes only
# when a deadline has come, never on a period.
#
#   sw = timeouts.sweeper(net)     the stack's Sweeper (made on first use)
#   sw.add(member, at)             member.check(now) runs at `at` at the latest
#   sw.want(at)                    a member's deadline moved earlier
#   sw.remove(member)              the connection is gone
#
# A member keeps its own bookkeeping (the time of its last progress, its
# state) and answers check(now) with its next deadline (absolute ms), or -1
# for none; check() also does what a passed deadline calls for (close, reset)
# and may remove the member. Deadlines only need to be exact when they come:
# the sweeper runs at the earliest one it was told of (an early run just
# recomputes them), so progress on a busy connection costs a couple of
# attribute writes, not a timer update per segment.


class Sweeper:
    def __init__(self):
        self.members = []
        self.timer_at = -1  # the Stack's timer contract: absolute ms, -1: none

    def add(self, member, at):
        self.members.append(member)
        self.want(at)

    def remove(self, member):
        ms = self.members
        for i in range(len(ms)):
            if ms[i] is member:
                ms.pop(i)
                return

    def want(self, at):
        if at >= 0 and (self.timer_at < 0 or at < self.timer_at):
            self.timer_at = at

    def poll(self, now):
        self.timer_at = -1
        ms = self.members
        i = len(ms) - 1
        while i >= 0:  # backwards: a member may remove itself while checked
            if i < len(ms):
                self.want(ms[i].check(now))
            i -= 1


def sweeper(net):
    """The Sweeper of stack `net`, registered as its timer on first use."""
    sw = getattr(net, "sweeper", None)
    if sw is None:
        sw = Sweeper()
        net.sweeper = sw
        net.add_timer(sw)
    return sw
