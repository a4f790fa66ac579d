"""Broker URLs: which transport a URL names, the settings its query carries, and its printable form.

Forms (the query is optional and the same for all): ``redis://HOST:PORT/DB`` (``rediss://`` for TLS),
``amqp://USER:PASS@HOST:PORT/VHOST`` (``amqps://``), ``sqs://QUEUE_NAME`` (region, credentials and
endpoint from the standard AWS settings: ``AWS_REGION``/``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL``,
...), ``memory://NAME`` (in-process, tests). Query: ``queue=NAME`` (the work queue; default
``docbatch``; for SQS the URL's own name), ``visibility=SECONDS`` (redelivery after a silent worker,
default 10).
"""

from __future__ import annotations

import importlib
import re
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit, urlunsplit

from docbatch.brokers.transport import Transport, TransportSettings
from docbatch.errors import ConfigError

# scheme -> (module, class, extra that brings its client library)
TRANSPORTS: dict[str, tuple[str, str, str]] = {
    "redis": ("docbatch.brokers.redis", "RedisTransport", "redis"),
    "rediss": ("docbatch.brokers.redis", "RedisTransport", "redis"),
    "amqp": ("docbatch.brokers.rabbitmq", "RabbitTransport", "rabbitmq"),
    "amqps": ("docbatch.brokers.rabbitmq", "RabbitTransport", "rabbitmq"),
    "sqs": ("docbatch.brokers.sqs", "SqsTransport", "sqs"),
    "memory": ("docbatch.brokers.memory", "MemoryTransport", ""),
}
USAGES = "redis://HOST:PORT/DB, amqp://USER:PASS@HOST/VHOST or sqs://QUEUE_NAME"


def is_broker_url(text: str) -> bool:
    return text.partition(":")[0].lower() in TRANSPORTS


def redacted(url: str) -> str:
    """``url`` without its password (``amqp://u:***@h/v``), for anything printed or stored. Never
    raises, even for a malformed URL."""
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


# scheme://user:password@ anywhere in a string (also `--executor=amqp://u:p@h/`).
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*):[^@/\s]*@")


def without_passwords(words: list[str]) -> list[str]:
    """A command line (or any list of strings) with the password of every URL in it masked, wherever
    the URL stands in a word."""
    return [_USERINFO.sub(r"\1:***@", word) for word in words]


def settings_of(url: str, base: TransportSettings | None = None) -> TransportSettings:
    """The settings ``url``'s query asks for, over ``base``. Raises ConfigError for an unknown or bad one."""
    settings = base or TransportSettings()
    parts = urlsplit(url)
    if parts.scheme == "sqs":
        settings = replace(settings, queue=parts.netloc or settings.queue)
    for key, values in parse_qs(parts.query, keep_blank_values=True).items():
        value = values[-1]
        if key == "queue" and value:
            settings = replace(settings, queue=value)
        elif key == "visibility":
            try:
                seconds = float(value)
            except ValueError:
                seconds = 0.0
            if not 1 <= seconds <= 43200:
                raise ConfigError(f"{redacted(url)!r}: visibility must be seconds from 1 to 43200, not {value!r}")
            settings = replace(settings, visibility_timeout_s=seconds)
        else:
            raise ConfigError(f"{redacted(url)!r}: unknown setting {key!r} (known: queue, visibility)")
    return settings


def check_url(url: str) -> None:
    """Raises ConfigError with the expected form when ``url`` is not a usable broker URL."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in TRANSPORTS:
        raise ConfigError(f"{redacted(url)!r} is not a broker URL: use {USAGES}")
    if scheme == "sqs" and not parts.netloc:
        raise ConfigError(f"{url!r}: use sqs://QUEUE_NAME (region and endpoint from the AWS settings)")
    if scheme in ("redis", "rediss", "amqp", "amqps"):
        try:
            port = parts.port
        except ValueError:
            port = -1
        if not parts.hostname or (port is not None and not 1 <= port <= 65535):
            raise ConfigError(f"{redacted(url)!r}: the broker needs a host and a port from 1 to 65535")
    if scheme == "memory" and not parts.netloc:
        raise ConfigError(f"{url!r}: use memory://NAME")
    settings_of(url)


def open_transport(url: str, base: TransportSettings | None = None) -> Transport:
    """The transport for ``url`` (not yet connected). Raises ConfigError for a malformed URL or a
    missing client library (naming the extra to install)."""
    check_url(url)
    scheme = urlsplit(url).scheme.lower()
    module_name, class_name, extra = TRANSPORTS[scheme]
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigError(f"{scheme}:// needs the {extra} extra: pip install 'docbatch[{extra}]' ({error})") from error
    transport_class = getattr(module, class_name)
    transport: Transport = transport_class(url, settings_of(url, base))
    return transport
