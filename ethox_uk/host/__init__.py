"""Host mode: the stack and a recipe's app under CPython on a host NIC (no VM).

    runner.run(recipe_arg, netopts) -> exit status     `ethox-uk host RECIPE [NETOPTS]`
    process.HostProcess                                 start `ethox-uk host` as a subprocess
    dgram_peer.RawDgramPeer / DgramPeer                 the peer on the other dgram socket
                                                        (raw bytes / scapy): demo, tests,
                                                        bench --image, conformance links
"""
