"""Transport: auth, headers, timeouts, pre-send vs after-send failures, secrecy of the key."""

from __future__ import annotations

import base64
import json
import logging
import traceback
from http.client import RemoteDisconnected

import pytest
import requests
import responses
import urllib3
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError
from vendus_testkit import API_KEY, BASE, url

from kapta_vendus import __version__
from kapta_vendus.vendus import OutcomeUnknown, VendusClient, VendusError, VendusUnavailable


def test_basic_auth_user_agent_and_accept(rsps, client):
    rsps.add(responses.GET, url("account/"), json={"id": 1})
    client.get_account()
    headers = rsps.calls[0].request.headers
    expected = base64.b64encode(f"{API_KEY}:".encode()).decode()
    assert headers["Authorization"] == f"Basic {expected}"
    assert headers["User-Agent"] == f"kapta-vendus/{__version__}"
    assert headers["Accept"] == "application/json"
    assert "api_key" not in rsps.calls[0].request.url


def test_json_body_with_content_type(rsps, client):
    rsps.add(responses.POST, url("documents/"), status=201, json={"id": 5})
    client.create_document({"type": "FT", "notes": "Devolução"})
    request = rsps.calls[0].request
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == {"type": "FT", "notes": "Devolução"}


@pytest.mark.parametrize(
    ("given", "expected"), [((3.05, 30.0), (3.05, 30.0)), (10, (10.0, 10.0)), ((1, 2), (1.0, 2.0))]
)
def test_explicit_timeouts_are_always_passed(rsps, make_client, given, expected):
    client = make_client(timeout=given)
    rsps.add(responses.GET, url("account/"), json={})
    rsps.add(responses.PATCH, url("documents/3"), json={"id": 3, "status": "A"})
    client.get_account()
    client.cancel_document(3)
    assert [c.request.req_kwargs["timeout"] for c in rsps.calls] == [expected, expected]


def test_default_timeout(rsps, client):
    rsps.add(responses.GET, url("account/"), json={})
    client.get_account()
    assert rsps.calls[0].request.req_kwargs["timeout"] == (3.05, 30.0)


@pytest.mark.parametrize("timeout", [None, 0, (3, None), (-1, 5)])
def test_no_timeout_is_refused(timeout):
    with pytest.raises(ValueError):
        VendusClient(BASE, API_KEY, timeout=timeout)


@pytest.mark.parametrize("base", ["http://vendus.test/ws/v1.1", "http://vendus.test/ws/v1.1/"])
def test_base_url_with_or_without_trailing_slash(rsps, make_client, base):
    client = make_client(base_url=base)
    rsps.add(responses.GET, url("documents/9"), json={"id": 9})
    assert client.get_document(9) == {"id": 9}
    assert client.base_url == BASE


@pytest.mark.parametrize(
    "bad",
    [
        "vendus.test/ws",
        "ftp://vendus.test/",
        f"http://{API_KEY}@vendus.test/ws",
        f"http://h/ws?api_key={API_KEY}",
    ],
)
def test_bad_base_url_is_refused_without_echoing_it(bad):
    with pytest.raises(ValueError) as info:
        VendusClient(bad, API_KEY)
    assert API_KEY not in str(info.value)


def test_empty_key_is_refused():
    with pytest.raises(ValueError):
        VendusClient(BASE, "  ")


def test_one_session_per_client_and_close(make_client):
    a, b = make_client(), make_client()
    assert isinstance(a.session, requests.Session)
    assert a.session is not b.session
    closed = []
    with VendusClient(BASE, API_KEY) as c:
        c.session.close = lambda: closed.append(True)
    assert closed == [True]


def test_injected_session_is_used_and_not_closed(rsps, make_client):
    class TrackingSession(requests.Session):
        closed = False

        def close(self):
            self.closed = True
            super().close()

    session = TrackingSession()
    client = make_client(session=session)
    rsps.add(responses.GET, url("account/"), json={"id": 1})
    assert client.get_account() == {"id": 1}
    client.close()
    assert session.closed is False


# -- pre-send vs after-send -------------------------------------------------------------------


def _new_connection_error() -> requests.ConnectionError:
    reason = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")
    return requests.ConnectionError(MaxRetryError(None, "/ws/v1.1/documents/", reason))


PRE_SEND = [
    requests.ConnectTimeout("connect timed out"),
    _new_connection_error(),
    requests.exceptions.SSLError("certificate verify failed"),
    requests.exceptions.ProxyError("proxy refused"),
]
AFTER_SEND = [
    requests.ReadTimeout("read timed out"),
    requests.ConnectionError(ProtocolError("Connection aborted.", RemoteDisconnected("closed"))),
    requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))),
    requests.exceptions.ChunkedEncodingError("incomplete chunk"),
    requests.RequestException("something unexpected"),
]


@pytest.mark.parametrize("exc", PRE_SEND, ids=lambda e: type(e).__name__)
def test_failures_before_sending_are_unavailable(rsps, client, exc):
    rsps.add(responses.POST, url("documents/"), body=exc)
    with pytest.raises(VendusUnavailable) as info:
        client.create_document({"items": []})
    assert type(exc).__name__ in str(info.value)
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("exc", AFTER_SEND, ids=lambda e: type(e).__name__)
def test_failures_after_sending_are_outcome_unknown(rsps, client, exc):
    rsps.add(responses.POST, url("documents/"), body=exc)
    with pytest.raises(OutcomeUnknown):
        client.create_document({"items": []})
    assert len(rsps.calls) == 1


def test_invalid_url_is_a_plain_non_retryable_error(rsps, client):
    rsps.add(responses.GET, url("account/"), body=requests.exceptions.InvalidURL("bad"))
    with pytest.raises(VendusError) as info:
        client.get_account()
    assert info.value.retryable is False
    assert len(rsps.calls) == 1


class _BodyDropsMidway:
    """A urllib3-like raw body whose stream breaks after the status line was received."""

    def stream(self, *args, **kwargs):
        raise ProtocolError("Connection broken", ConnectionResetError(104, "reset"))
        yield b""  # pragma: no cover

    def close(self):
        pass

    def release_conn(self):
        pass


class _SessionWithBrokenBody(requests.Session):
    def request(self, method, url, **kwargs):
        response = requests.Response()
        response.status_code = 201
        response.raw = _BodyDropsMidway()
        response.url = url
        return response


def test_body_lost_after_201_is_outcome_unknown(make_client):
    client = make_client(session=_SessionWithBrokenBody())
    with pytest.raises(OutcomeUnknown) as info:
        client.create_document({"items": []})
    assert info.value.status == 201


def test_unreadable_2xx_body_write_is_outcome_unknown(rsps, client):
    rsps.add(responses.POST, url("documents/"), status=201, body="<html>maintenance</html>")
    with pytest.raises(OutcomeUnknown):
        client.create_document({"items": []})


def test_empty_2xx_body_on_write_is_outcome_unknown(rsps, client):
    rsps.add(responses.POST, url("documents/"), status=201, body="")
    with pytest.raises(OutcomeUnknown):
        client.create_document({"items": []})


def test_unreadable_2xx_body_on_get_is_unavailable(rsps, make_client):
    client = make_client(get_retries=0)
    rsps.add(responses.GET, url("account/"), body="{not json")
    with pytest.raises(VendusUnavailable):
        client.get_account()


# -- the key never leaks ------------------------------------------------------------------------


def test_repr_shows_base_url_only(client):
    assert repr(client) == f"VendusClient(base_url='{BASE}')"
    assert API_KEY not in repr(client._transport)
    assert API_KEY not in repr(vars(client.session))  # auth is per request, never on the session


def _all_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc) + str(exc)


def test_key_never_in_errors_or_logs(rsps, make_client, caplog):
    caplog.set_level(logging.DEBUG)
    client = make_client(get_retries=1)
    echoed = {"errors": [{"code": "A001", "message": f"Chave {API_KEY} inválida"}]}
    rsps.add(responses.GET, url("account/"), status=401, json=echoed)
    rsps.add(responses.POST, url("documents/"), body=requests.ReadTimeout(f"timed out {API_KEY}"))
    rsps.add(responses.GET, url("stores/"), body=_new_connection_error())
    rsps.add(responses.POST, url("clients/"), status=403, json=echoed)

    raised = []
    for call in (
        client.get_account,
        lambda: client.create_document({"items": []}),
        client.list_stores,
        lambda: client.create_client({"name": "x"}),
    ):
        with pytest.raises(VendusError) as info:
            call()
        raised.append(info.value)

    token = base64.b64encode(f"{API_KEY}:".encode()).decode()
    for err in raised:
        text = _all_text(err) + repr(err.errors)
        assert API_KEY not in text
        assert token not in text
    assert "***" in raised[0].message
    assert "vendus GET account/ -> 401" in caplog.text
    assert API_KEY not in caplog.text and token not in caplog.text


def test_debug_log_has_method_path_status_duration(rsps, client, caplog):
    caplog.set_level(logging.DEBUG, logger="kapta_vendus.vendus")
    rsps.add(responses.GET, url("documents/12"), json={"id": 12})
    client.get_document(12, mode="tests")
    record = next(r for r in caplog.records if "documents/12" in r.getMessage())
    assert record.levelno == logging.DEBUG
    assert record.args[:3] == ("GET", "documents/12", 200)
    assert isinstance(record.args[3], float)


def test_urllib3_retries_are_not_layered_on_top(client):
    # The client owns retry policy; urllib3 must not silently resend a POST.
    adapter = client.session.get_adapter(BASE)
    assert isinstance(adapter.max_retries, urllib3.Retry)
    assert adapter.max_retries.total == 0
