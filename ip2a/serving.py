"""The portal's gunicorn worker (gunicorn.conf.py names it): gunicorn's sync worker, except that it closes each
connection without waiting for the client to close its side first.

gunicorn 27 ends every connection the way RFC 9112 §9.6 describes (``gunicorn.util.close_graceful``): it
half-closes, then reads and discards what the client still sends until the client closes or 2 s pass, so that
request bytes left unread cannot make the kernel answer with a reset that would cut the end off the response.
A sync worker serves nobody while it waits. A browser closes at once, but a client that is slow to read its
answers holds every worker in turn (py-spy showed the wait in every worker under a 1,000-user Locust run;
figures in the commit that added this). A 4,000-user run once left a third of the machine's CPU idle while
requests queued, which such waits may explain (not shown; docs/benchmarks.md, sessions 10 and 11).

``close_promptly`` keeps the guard for the case it exists for and drops the wait otherwise: it half-closes,
reads what has already arrived without waiting, and only when the client was still sending (bytes were there)
lingers as gunicorn does. A request this worker answered has been read to its end, so for ordinary requests
nothing is there and the socket closes at once; an upload refused before its body was read keeps sending, finds
bytes in the buffer, and gets gunicorn's linger.

``client_gone`` lets the worker skip a read (GET or HEAD) whose client hung up while it waited in the listen
queue: past its timeout a load test's client, a browser's user or a proxy has given up, and rendering the page
anyway spends the worker on an answer nobody reads while the requests behind it wait longer still. Writes are
served whatever happens, as the client may only have closed its sending side. Skipped requests are counted in a
warning at most once a minute per worker.
"""

import socket
import ssl
import time

from gunicorn import util
from gunicorn.workers.sync import SyncWorker

gunicorn_close_graceful = util.close_graceful


def close_promptly(sock: socket.socket, timeout: float = 2.0, max_drain: int = 65536) -> None:
    """Close a client connection: half-close, discard what the client already sent, close; lingering as
    gunicorn's close_graceful() does (up to ``timeout`` seconds, ``max_drain`` bytes) only when the client was
    still sending."""
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:  # the client is gone already
        util.close(sock)
        return
    try:
        sock.setblocking(False)  # close_graceful() below sets its own timeout
        pending = sock.recv(max_drain)
    except BlockingIOError:  # nothing arrived after the request: the usual case
        pending = b""
    except OSError:  # reset by the client
        util.close(sock)
        return
    if pending:
        gunicorn_close_graceful(sock, timeout=timeout, max_drain=max_drain - len(pending))
    else:
        util.close(sock)


def client_gone(sock) -> bool:
    """Whether the client has closed the connection: a read that does not wait finds the end of the stream
    (nothing is left to read once a request without a body has been parsed). Never true for TLS sockets, which
    cannot be peeked at."""
    if isinstance(sock, ssl.SSLSocket) or not hasattr(socket, "MSG_DONTWAIT"):
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:  # open, nothing sent since the request: the client is waiting
        return False
    except OSError:  # reset by the client
        return True


SKIPPED_REPORT_SECONDS = 60
READS = frozenset({"GET", "HEAD"})


class PromptCloseSyncWorker(SyncWorker):
    """gunicorn's sync worker with close_promptly() for its connections, skipping reads whose client is gone."""

    skipped = 0
    skipped_reported = float("-inf")  # time.monotonic() of the last warning

    def handle_request(self, listener, req, client, addr):
        if req.method in READS and client_gone(client):
            self.skip(req)
            return
        super().handle_request(listener, req, client, addr)

    def skip(self, req) -> None:
        self.skipped += 1
        now = time.monotonic()
        if now - self.skipped_reported >= SKIPPED_REPORT_SECONDS:
            self.log.warning(
                "Skipped %d request(s) whose client closed the connection before it was served (last: %s %s); "
                "the portal is answering more slowly than its clients wait.",
                self.skipped,
                req.method,
                req.path,
            )
            self.skipped, self.skipped_reported = 0, now

    def init_process(self):
        # The sync worker calls util.close_graceful() (through the module) after each request and after an error
        # once a response has started; this process is the worker alone (forked), so the arbiter and other
        # workers keep gunicorn's own. ip2a/tests/test_serving.py fails if a gunicorn release stops calling it.
        util.close_graceful = close_promptly
        super().init_process()
