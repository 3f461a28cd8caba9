"""Host mode: the stack and a recipe's app under CPython on a host NIC (no VM).

    runner.run(recipe_arg, netopts) -> exit status     `ethox-uk host RECIPE [NETOPTS]`
    process.HostProcess                                 start `ethox-uk host` as a subprocess
    peer.DgramPeer                                      a scapy-friendly peer on the other socket
"""
