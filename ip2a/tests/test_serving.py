"""The portal's gunicorn worker (ip2a/serving.py): connections close without waiting for the client, the
response still reaches the client whole, and a client still sending gets gunicorn's linger."""

import inspect
import runpy
import select
import socket
import struct

import pytest
from gunicorn import util
from gunicorn.workers.sync import SyncWorker

from ip2a import serving
from ip2a.serving import PromptCloseSyncWorker, close_promptly

from .test_deploy_files import ROOT

RESPONSE = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello"


@pytest.fixture
def connection():
    """(the server's end, the client's end) of a TCP connection on the loopback, the request read by the server."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _addr = listener.accept()
    client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert server.recv(4096).startswith(b"GET / ")
    yield server, client
    client.close()
    server.close()


GUNICORN_CLOSE = serving.gunicorn_close_graceful  # gunicorn's own, taken before any test replaces it


@pytest.fixture
def lingers(monkeypatch):
    """The calls close_promptly() makes to gunicorn's lingering close (which then runs as usual)."""
    calls = []

    def record(sock, timeout, max_drain):
        calls.append((timeout, max_drain))
        GUNICORN_CLOSE(sock, timeout=timeout, max_drain=max_drain)

    monkeypatch.setattr(serving, "gunicorn_close_graceful", record)
    return calls


def read_to_end(client: socket.socket) -> bytes:
    received = b""
    while chunk := client.recv(4096):
        received += chunk
    return received


def test_a_read_request_closes_at_once_and_the_client_gets_the_whole_response(connection, lingers):
    server, client = connection
    server.sendall(RESPONSE)
    close_promptly(server)  # the client has not closed: gunicorn's close would wait for it here
    assert server.fileno() == -1
    assert lingers == []
    assert read_to_end(client) == RESPONSE  # then the end of the stream, not a reset


def test_a_client_still_sending_gets_gunicorns_linger_and_the_whole_response(connection, lingers):
    server, client = connection
    client.sendall(b"x" * 1000)  # e.g. the rest of an upload the view refused without reading it
    server.sendall(RESPONSE)
    client.shutdown(socket.SHUT_WR)  # lets the linger end when it has read everything
    assert select.select([server], [], [], 10)[0] == [server]  # the bytes have reached the server's buffer
    close_promptly(server, timeout=30)
    assert lingers == [(30, 65536 - 1000)]
    assert server.fileno() == -1
    assert read_to_end(client) == RESPONSE


def test_a_client_gone_before_the_close_raises_nothing(connection, lingers):
    server, client = connection
    server.sendall(RESPONSE)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # its close sends a reset
    client.close()
    close_promptly(server)
    assert server.fileno() == -1
    assert lingers == []


def test_gunicorn_conf_runs_the_prompt_close_sync_worker():
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    worker = util.load_class(conf["worker_class"], default="sync", section="gunicorn.workers")
    assert worker is PromptCloseSyncWorker
    assert issubclass(worker, SyncWorker)


def test_gunicorns_sync_worker_still_closes_through_the_function_the_worker_replaces():
    # PromptCloseSyncWorker replaces util.close_graceful in its process; a gunicorn release that closed
    # connections some other way would silently bring back the wait.
    handle = inspect.getsource(SyncWorker.handle)
    assert "util.close_graceful(client)" in handle
    assert GUNICORN_CLOSE is util.close_graceful  # this test process never runs the worker
    assert list(inspect.signature(GUNICORN_CLOSE).parameters) == ["sock", "timeout", "max_drain"]


class FakeRequest:
    def __init__(self, method: str, path: str = "/members/"):
        self.method, self.path = method, path


class RecordingLog:
    def __init__(self):
        self.warnings = []

    def warning(self, message, *args):
        self.warnings.append(message % args)


@pytest.fixture
def worker(monkeypatch):
    """A PromptCloseSyncWorker (not started) whose served requests are recorded instead of run by the app."""
    served = []
    monkeypatch.setattr(SyncWorker, "handle_request", lambda self, listener, req, client, addr: served.append(req))
    instance = PromptCloseSyncWorker.__new__(PromptCloseSyncWorker)
    instance.log = RecordingLog()
    instance.served = served
    return instance


def test_a_waiting_client_is_not_gone(connection):
    server, _client = connection
    assert serving.client_gone(server) is False


def test_a_client_that_closed_or_reset_is_gone(connection):
    server, client = connection
    client.close()
    assert select.select([server], [], [], 10)[0] == [server]
    assert serving.client_gone(server) is True
    assert server.recv(1) == b""  # peeking consumed nothing: the end of the stream is still there to read


def test_a_read_whose_client_hung_up_is_skipped_with_a_warning(connection, worker):
    server, client = connection
    client.close()
    assert select.select([server], [], [], 10)[0] == [server]
    worker.handle_request(None, FakeRequest("GET", "/members/7/"), server, None)
    worker.handle_request(None, FakeRequest("HEAD", "/members/8/"), server, None)
    assert worker.served == []
    assert len(worker.log.warnings) == 1  # at most one a minute
    assert "Skipped 1 request(s)" in worker.log.warnings[0]
    assert "GET /members/7/" in worker.log.warnings[0]
    assert worker.skipped == 1  # counted for the next warning


def test_a_read_whose_client_waits_is_served(connection, worker):
    server, _client = connection
    request = FakeRequest("GET")
    worker.handle_request(None, request, server, None)
    assert worker.served == [request]
    assert worker.log.warnings == []


def test_a_write_is_served_even_when_the_client_closed_its_side(connection, worker):
    server, client = connection
    client.shutdown(socket.SHUT_WR)  # a client may half-close after sending and still read the answer
    assert select.select([server], [], [], 10)[0] == [server]
    request = FakeRequest("POST")
    worker.handle_request(None, request, server, None)
    assert worker.served == [request]
