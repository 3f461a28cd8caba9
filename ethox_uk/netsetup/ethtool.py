"""Switch a device's offloads off through the kernel's ethtool ioctl (HOST-ONLY, root).

    offloads_off("eth0")        # in the calling thread's namespace (NetNS.entered())

A veth hands segments to its peer with checksums left for "hardware" to fill in and
TCP segments up to 64 KiB (TSO/GSO); a packet socket on the other end then sees wrong
checksums and giant frames. With these offloads off the kernel sends what a wire carries.
Written against the ioctl because the ethtool program is not among the project's Debian
packages (DESIGN §5) and five legacy commands are all that is needed."""

import ctypes
import fcntl
import socket
import struct

SIOCETHTOOL = 0x8946
# legacy "set" commands of include/uapi/linux/ethtool.h
ETHTOOL_STXCSUM, ETHTOOL_SSG, ETHTOOL_STSO = 0x17, 0x19, 0x1F
ETHTOOL_SGSO, ETHTOOL_SGRO = 0x24, 0x2C
OFF = (ETHTOOL_STSO, ETHTOOL_SGSO, ETHTOOL_SGRO, ETHTOOL_SSG, ETHTOOL_STXCSUM)


def _set(sock, ifname, cmd, value):
    data = ctypes.create_string_buffer(struct.pack("II", cmd, value))
    ifreq = struct.pack("16sP", ifname.encode(), ctypes.addressof(data))
    fcntl.ioctl(sock.fileno(), SIOCETHTOOL, ifreq)


def offloads_off(ifname):
    """TSO, GSO, GRO, scatter-gather and TX checksum offload off on IFNAME (OSError when the
    device refuses; devices without a setting ignore the ones they lack)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for cmd in OFF:
            try:
                _set(s, ifname, cmd, 0)
            except OSError as e:
                if e.errno not in (95,):  # EOPNOTSUPP: nothing to switch off
                    raise
    finally:
        s.close()
