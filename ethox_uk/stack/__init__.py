# The network stack: MicroPython-compatible (see docs/ARCHITECTURE.md).
