"""Structured logs: one JSON object per line on standard error, with the request id.

Log records never carry sensitive values: sensitive columns are the encrypted ones
and the audit log masks them; code must not log a plain ID number or phone — the suite's
``tests/test_pii_at_rest.py`` searches the captured logs for them.
"""
from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

from core.context import current_actor, current_request_id
from core.db import bound_tenant_id


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": current_request_id(),
            "tenant_id": bound_tenant_id(),
            "actor": current_actor().label,
        }
        for key in ("method", "path", "status", "duration_ms"):
            if hasattr(record, key):
                out[key] = getattr(record, key)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def setup(level: str = "INFO") -> None:
    root = logging.getLogger("pingan")
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        root.setLevel(level)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = True
