"""Sans-IO protocol codecs: bytes in, messages out.

Nothing in this package touches sockets, gevent or Flask, so the SDK, the emulator and the tests
share one copy of every wire format.
"""
