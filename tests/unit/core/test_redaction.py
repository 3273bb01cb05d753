"""One helper hides credentials in every URL groundwatch prints or logs."""

from __future__ import annotations

import logging

import pytest

from groundwatch.tls import RedactingFilter, redact_text, redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("mqtts://gs1:S3cr%40t@broker:8883", "mqtts://gs1:***@broker:8883"),
        ("http://admin:pw@influx:8086/x?db=g&p=pw&u=admin", None),
        ("htp//admin:pw@influx", "htp//admin:***@influx"),  # a mistyped scheme too
        ("http://influx:8086", "http://influx:8086"),
        ("mqtt://gs1@broker", "mqtt://gs1@broker"),
    ],
)
def test_redact_url(url: str, shown: str | None) -> None:
    out = redact_url(url)
    assert "pw" not in out and "S3cr" not in out
    if shown is not None:
        assert out == shown


def test_log_records_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("groundwatch.test.redaction")
    handler = logging.Handler()
    seen: list[str] = []
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    try:
        logger.warning("cannot reach %s: %s", "mqtt://u:hunter2@h:1883", "refused")
    finally:
        logger.removeHandler(handler)
    assert seen == ["cannot reach mqtt://u:***@h:1883: refused"]
    assert redact_text("a http://x:y@z b") == "a http://x:***@z b"


@pytest.mark.parametrize(
    "url",
    [
        "mqtt://gs1:pw/rest@broker:1883",  # a "/" in an unescaped password
        "mqtts://gs1:a/b/pw@broker",
    ],
)
def test_password_with_a_slash_is_redacted(url: str) -> None:
    # urlsplit ends the authority at the "/", so the password is not seen as one; the
    # configuration error that shows the URL must still hide it.
    assert "pw" not in redact_url(url)
    assert "pw" not in redact_text(f"MQTT URL {url!r}: Port could not be cast")


def test_a_malformed_log_call_does_not_raise_into_the_caller() -> None:
    # logging reports a record it cannot format (handleError) and goes on; the redacting
    # filter must not turn it into an exception in the task that logged.
    logger = logging.getLogger("groundwatch.test.redaction.malformed")
    handler = logging.StreamHandler()
    handler.handleError = lambda record: None  # type: ignore[method-assign]
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    logger.propagate = False  # pytest's own capture handler raises on such a record
    try:
        logger.warning("value %d", "text")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def test_a_logged_traceback_is_redacted() -> None:
    logger = logging.getLogger("groundwatch.test.redaction.traceback")
    handler = logging.Handler()
    seen: list[str] = []
    handler.emit = lambda record: seen.append(handler.format(record))  # type: ignore[method-assign]
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise OSError("cannot reach mqtt://u:hunter2@h:1883")
        except OSError:
            logger.exception("writer failed")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    assert "hunter2" not in seen[0] and "mqtt://u:***@h:1883" in seen[0]


@pytest.mark.parametrize(
    "url",
    [
        "https://chat.example.com/v1/spaces/X/messages?key=SeCrEt1&token=SeCrEt2",
        "https://hooks.example.com/notify?api_key=SeCrEt1&access_token=SeCrEt2",
        "https://store.example.com/hook?sv=2020&sig=SeCrEt1&apikey=SeCrEt2",
    ],
)
def test_webhook_api_keys_in_the_query_are_redacted(url: str) -> None:
    assert "SeCrEt" not in redact_url(url)


def test_an_mqtt_client_key_file_is_a_path_not_a_secret() -> None:
    url = "mqtts://broker:8883?ca=/etc/gw/ca.pem&key=/etc/gw/client.key"
    assert redact_url(url) == url
