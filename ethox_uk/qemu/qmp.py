"""Watch a QEMU through QMP (qemu.qmp) on an inherited socket.

Under KVM an internal error (e.g. this machine's "emulation failure" for SSE in ring 0)
does not end QEMU: it pauses the VM (run state "internal-error", a STOP event) and QEMU
would wait forever. The watcher notices that (and a guest panic), records it as `fatal`
and quits QEMU, so the caller maps the run to status 125. It also records the reason of
the SHUTDOWN event, which tells a guest reset (125) from the user's Ctrl-C.

The socket is one end of a socketpair whose other end QEMU got with
`-chardev socket,id=qmp,fd=N -mon chardev=qmp,mode=control`: connected before QEMU starts,
so no event is missed and no socket file is left anywhere.
"""

import asyncio
import logging
import threading

FATAL_STATES = ("internal-error", "guest-panicked")
STUCK_GRACE = 2.0  # seconds QEMU may take to exit after a SHUTDOWN event


class QmpWatch:
    def __init__(self, sock, on_stuck=None):
        self.sock = sock
        self.on_stuck = on_stuck  # called if QEMU outlives a SHUTDOWN by STUCK_GRACE
        self.fatal = None  # a FATAL_STATES run state, once seen
        self.shutdown_reason = None
        self.error = None  # why QMP could not be used (the run goes on without it)
        self._loop = None
        self._client = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="qmp", daemon=True)
        # qemu.qmp logs a lost connection as an error: QEMU exiting is the normal end here.
        logging.getLogger("qemu.qmp").setLevel(logging.CRITICAL)

    def start(self):
        self._thread.start()
        return self

    def _run(self):
        try:
            asyncio.run(self._main())
        except Exception as e:  # noqa: BLE001 - the watcher must never take the run down
            self.error = "%s: %s" % (type(e).__name__, e)
        finally:
            self._ready.set()

    async def _main(self):
        from qemu.qmp import EventListener, QMPClient, Runstate

        self._loop = asyncio.get_running_loop()
        client = QMPClient("ethox-uk")
        self._client = client
        try:
            await client.connect(self.sock)
        finally:
            self._ready.set()
        try:
            listener = EventListener()
            with client.listen(listener):
                # Events first: a SHUTDOWN must be handled even while query-status waits.
                events = asyncio.ensure_future(self._events(client, listener))
                await self._check_state(client)
                # An event listener does not end when QEMU goes away: watch the runstate.
                while client.runstate == Runstate.RUNNING and not events.done():
                    await client.runstate_changed()
                events.cancel()
                for event in listener.clear():  # queued before the end, not yet handled
                    await self._handle(client, event)
        except Exception:  # noqa: BLE001 - QEMU went away: the normal end
            pass
        finally:
            try:
                await client.disconnect()
            except Exception:  # noqa: BLE001
                pass

    async def _events(self, client, listener):
        async for event in listener:
            await self._handle(client, event)

    async def _handle(self, client, event):
        name = event["event"]
        data = event.get("data", {})
        if name == "SHUTDOWN":
            if self.shutdown_reason is None:  # the first one says why
                self.shutdown_reason = data.get("reason")
            # Under -no-reboot every SHUTDOWN ends QEMU, but QEMU 7.2 can deadlock in its
            # monitor clean-up when the guest resets while a QMP command (our
            # query-status) is in flight -- seen here in ~1 of 8 triple-fault runs; QMP
            # itself no longer answers then. If QEMU is still there after a grace period
            # (this loop ends as soon as QEMU's side closes), the owner ends the process.
            if self.on_stuck is not None:
                asyncio.get_running_loop().call_later(STUCK_GRACE, self.on_stuck)
        elif name == "GUEST_PANICKED":
            self.fatal = self.fatal or "guest-panicked"
            await self._fatal(client, "guest-panicked")
        elif name == "STOP":
            try:
                await self._check_state(client)
            except Exception:  # noqa: BLE001 - QEMU already gone
                pass

    async def _check_state(self, client):
        st = await client.execute("query-status")
        if st.get("status") in FATAL_STATES:
            await self._fatal(client, st["status"])

    async def _fatal(self, client, state):
        if self.fatal is None:
            self.fatal = state
        try:
            await client.execute("quit")
        except Exception:  # noqa: BLE001 - QEMU may be gone already
            pass

    def execute(self, cmd, args=None, timeout=2.0):
        """Run one QMP command from another thread; its return value, or None if QMP is
        not available (QEMU gone, or never connected)."""
        self._ready.wait(timeout)
        loop, client = self._loop, self._client
        if loop is None or client is None or loop.is_closed():
            return None
        try:
            fut = asyncio.run_coroutine_threadsafe(client.execute(cmd, args), loop)
            return fut.result(timeout)
        except Exception:  # noqa: BLE001
            return None

    def quit(self, timeout=2.0):
        """Ask QEMU to quit (True if the request went out)."""
        self._ready.wait(timeout)
        loop, client = self._loop, self._client
        if loop is None or client is None or loop.is_closed():
            return False
        try:
            fut = asyncio.run_coroutine_threadsafe(client.execute("quit"), loop)
            fut.result(timeout)
            return True
        except Exception:  # noqa: BLE001 - QEMU gone (the disconnect cancels the call)
            return False

    def join(self, timeout=2.0):
        self._thread.join(timeout)
