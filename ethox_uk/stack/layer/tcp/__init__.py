# TCP (RFC 9293) after ethox: see io.py for the user interface, layer.py for
# the layer, connection.py for the state machine, endpoint.py for the table.
from .io import SENDING, OPEN, CLOSING, CLOSED, STRAY, In, Raw, UserSignals, SendBuf, RecvBuf  # noqa: F401
from .buffers import RingSendBuf, RingRecvBuf  # noqa: F401
from .layer import TcpLayer  # noqa: F401
from . import connection as states  # noqa: F401

__all__ = ["SENDING", "OPEN", "CLOSING", "CLOSED", "STRAY", "In", "Raw", "UserSignals",
           "SendBuf", "RecvBuf", "RingSendBuf", "RingRecvBuf", "TcpLayer", "states"]
