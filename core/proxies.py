"""Who the client is behind the reverse proxies of ``PINGAN_TRUSTED_PROXIES`` (issue 14).

The one supported way to run behind a TLS proxy: list the proxies' addresses in
``PINGAN_TRUSTED_PROXIES``. ``create_app`` always wraps the app in ``TrustedProxies``:

- a request whose peer (``REMOTE_ADDR``) is one of those proxies has its ``X-Forwarded-For``
  read from the right: the first address that is not a listed proxy is the client (so a
  client cannot pick its address by sending its own ``X-Forwarded-For``: the proxy appends
  the real one); ``X-Forwarded-Proto`` (``http``/``https``) sets the scheme, which OAuth needs
  (Authlib refuses ``http://``); ``X-Forwarded-Host`` the host;
- from any other peer — a client reaching the app past the proxy — every forwarding header is
  dropped, so nothing downstream can read a forged one.

``pingan serve`` tells waitress to leave those headers to the app
(``clear_untrusted_proxy_headers=False``): waitress's own ``trusted_proxy`` takes a single
address, and without it waitress removes the headers before the app sees them — the defect
this module fixes. Any other WSGI server works the same way, as long as it passes the
headers through.
"""
from __future__ import annotations

import ipaddress

# the WSGI names of every forwarding header a client might send
FORWARDING_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
                      "HTTP_X_FORWARDED_PORT", "HTTP_X_FORWARDED_BY", "HTTP_FORWARDED")


def _ip(text: str):
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _last(value: str) -> str:
    return value.rsplit(",", 1)[-1].strip()


class TrustedProxies:
    """WSGI middleware: the client address, scheme and host as the trusted proxies saw them."""

    def __init__(self, app, networks: tuple = ()) -> None:
        self.app, self.networks = app, tuple(networks)

    def trusted(self, address) -> bool:
        return address is not None and any(address in net for net in self.networks)

    def __call__(self, environ, start_response):
        sent = {k: environ.pop(k) for k in FORWARDING_HEADERS if k in environ}
        if sent and self.trusted(_ip(environ.get("REMOTE_ADDR", ""))):
            client = None
            for hop in reversed(sent.get("HTTP_X_FORWARDED_FOR", "").split(",")):
                address = _ip(hop)
                if address is None:  # a malformed entry: whoever wrote it is the client we know
                    break
                client = address
                if not self.trusted(address):
                    break
            if client is not None:
                environ["REMOTE_ADDR"] = str(client)
            proto = _last(sent.get("HTTP_X_FORWARDED_PROTO", "")).lower()
            if proto in ("http", "https"):
                environ["wsgi.url_scheme"] = proto
            host = _last(sent.get("HTTP_X_FORWARDED_HOST", ""))
            if host and all(c.isalnum() or c in ".-:[]" for c in host):
                environ["HTTP_HOST"] = host
        return self.app(environ, start_response)
