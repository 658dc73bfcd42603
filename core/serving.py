"""``pingan serve``'s waitress loop, and stopping it without cutting requests (issue 25).

waitress has no graceful stop: on SIGINT its ``run()`` shuts its task threads down with the
requests in them, and SIGTERM simply ends the process, so a restart cut every request in
flight. :func:`serve` runs waitress's loop itself and stops in order:

1. SIGTERM or SIGINT only sets a flag and wakes the loop (``pull_trigger`` writes one byte to
   waitress's wake-up pipe, which is safe in a signal handler).
2. On Linux a socket filter that drops every packet is attached to the listening sockets
   first: a connection attempt arriving from now on is not completed (its client resends
   its SYN a second later and then meets the closed socket). Without it, a connection the
   kernel completed between the last ``accept()`` and ``close()`` would be reset with its
   request already sent — a reverse proxy cannot retry that POST and answers 502 (seen once
   in CI). (One window is left: a handshake whose SYN-ACK went out just before the filter;
   its last ACK is dropped too and the connection is reset at ``close()``. On the loopback
   and LAN links between a proxy and its upstream a handshake takes microseconds, against the
   whole drain before.) The loop then takes the connections the kernel has already completed from the
   listen backlog (closing the socket with them queued would reset them), and closes the
   listening sockets: from now on a new connection is refused, and the reverse proxy sends
   it to the other process (docs/operations.md, "Rolling restarts").
3. It keeps serving the open connections until none is left or ``grace`` seconds have passed:
   a request being received or handled completes and its response is sent; a connection with
   nothing in flight — idle on keep-alive, or done with its last response — is closed. One
   accepted just before the stop has ``FIRST_REQUEST_SECONDS`` to send its request.
4. Whatever is still open at the deadline is closed (logged with the count), the task threads
   are stopped, and :func:`serve` returns: the process exits 0.

A second signal ends the grace at once. The waitress internals this relies on (the socket
map, ``HTTPChannel.requests``/``request``/``total_outbufs_len``, ``creation_time`` and
``last_activity``) are those of waitress 3.
"""
from __future__ import annotations

import ctypes
import logging
import signal
import socket
import struct
import sys
import time

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer

log = logging.getLogger("pingan.serving")

FIRST_REQUEST_SECONDS = 1.0  # a connection accepted just before the stop may still send its request
POLL_SECONDS = 0.1           # how often the draining loop looks at its connections

SO_ATTACH_FILTER = 26        # <asm-generic/socket.h>; Linux only
# one classic BPF instruction, struct sock_filter {u16 code; u8 jt, jf; u32 k}: BPF_RET|BPF_K, k=0 → drop
_DROP_ALL = ctypes.create_string_buffer(struct.pack("HBBI", 0x06, 0, 0, 0), 8)


def refuse_new_connections(sock: socket.socket) -> bool:
    """Make a listening socket drop every incoming packet, so no further connection completes
    while its backlog is drained. Connections already completed (in the backlog or accepted)
    are sockets of their own and unaffected. False where the platform has no socket filters."""
    if not sys.platform.startswith("linux"):
        return False
    # struct sock_fprog { unsigned short len; struct sock_filter *filter; } — native alignment
    program = struct.pack("HP", 1, ctypes.addressof(_DROP_ALL))
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, program)
    except OSError:
        log.warning("could not attach the drop filter to the listening socket", exc_info=True)
        return False
    return True


class GracefulServer:
    """A waitress server (``create_server``'s result) served until :meth:`stop`, then drained."""

    def __init__(self, server, grace: float) -> None:
        self.server, self.grace = server, grace
        self.adj = server.adj
        self.map = server._map if isinstance(server, BaseWSGIServer) else server.map
        self.listeners = [d for d in self.map.values() if isinstance(d, BaseWSGIServer)]
        self.stopping = self.hurry = self.finished = False

    def stop(self, *_signal) -> None:
        """Stop gracefully (from a signal handler or any thread); a second call ends the grace."""
        self.hurry = self.stopping
        self.stopping = True
        if not self.finished:
            self.listeners[0].pull_trigger()  # the loop wakes up now, not after its poll timeout

    def run(self) -> int:
        """Serve until :meth:`stop`, then drain; returns how many connections the deadline cut."""
        while not self.stopping:
            self._poll(self.adj.asyncore_loop_timeout)
        deadline = time.monotonic() + self.grace
        self._stop_accepting()
        self._poll(0)  # read what already arrived: a request sent on an idle keep-alive connection is in flight
        busy = self._close_idle()
        log.info("stopping: no new connections, %d open ones get up to %s s", len(busy), self.grace)
        while busy and time.monotonic() < deadline and not self.hurry:
            self._poll(min(POLL_SECONDS, deadline - time.monotonic()))
            busy = self._close_idle()
        if busy:
            log.warning("stopped with %d connection(s) still busy after the grace period", len(busy))
        for channel in busy:
            channel.handle_close()
        self.server.task_dispatcher.shutdown(cancel_pending=True, timeout=0.5)
        self.finished = True
        wasyncore.close_all(self.map)
        return len(busy)

    def _poll(self, timeout: float) -> None:
        wasyncore.loop(timeout=max(timeout, 0), map=self.map, use_poll=self.adj.asyncore_use_poll, count=1)

    def _stop_accepting(self) -> None:
        for listener in self.listeners:
            if listener.socket is not None and listener.socket.family in (socket.AF_INET, socket.AF_INET6):
                refuse_new_connections(listener.socket)
        for listener in self.listeners:
            for _ in range(self.adj.backlog):  # accept what waits in the backlog, until none is left
                before = len(self.map)
                listener.handle_accept()
                if len(self.map) == before:
                    break
            # the listening socket only: its trigger (wake-up pipe) serves the draining loop
            wasyncore.dispatcher.close(listener)

    def _close_idle(self) -> list[HTTPChannel]:
        """Close the connections with nothing in flight; the busy ones that remain."""
        busy = []
        for channel in [d for d in self.map.values() if isinstance(d, HTTPChannel)]:
            if _in_flight(channel):
                busy.append(channel)
            else:
                channel.handle_close()
        return busy


def _in_flight(channel: HTTPChannel) -> bool:
    """A request being received, handled or answered on ``channel`` — or, on a connection
    that has sent nothing yet, one that may still be on its way."""
    if channel.requests or channel.request is not None or channel.total_outbufs_len:
        return True
    silent = channel.last_activity == channel.creation_time  # waitress moves last_activity on every read
    return silent and time.time() - channel.creation_time < FIRST_REQUEST_SECONDS


def serve(server, grace: float) -> int:
    """Serve until SIGTERM or SIGINT, then stop gracefully (see the module docstring).
    Main thread only (signal handlers); returns how many connections the deadline cut."""
    graceful = GracefulServer(server, grace)
    previous = {sig: signal.signal(sig, graceful.stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return graceful.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
