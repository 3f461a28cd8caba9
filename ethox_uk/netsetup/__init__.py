"""Host-side network plumbing for tests, `run --net bridge` and the conformance suite
(HOST-ONLY, CPython, needs root): private namespaces (netns), a tap <-> unix-datagram frame
relay with the kernel as a dgram peer (relay), and DESIGN §5's bridge layout (bridge)."""

from .netns import NetNS, NetSetupError, cleanup_stale, list_namespaces, wait_link_up
from .relay import KernelPeer, Relay, open_tap
from .bridge import BridgeNet

__all__ = ["NetNS", "NetSetupError", "cleanup_stale", "list_namespaces", "wait_link_up",
           "KernelPeer", "Relay", "open_tap", "BridgeNet"]
