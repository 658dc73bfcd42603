"""Hooks the testing kit calls in a project's conftest.py (pytest hook specifications)."""
from __future__ import annotations


def pytest_pingan_session_end(app) -> None:
    """After the session's last test, before the ``app`` fixture closes its database: a check
    over everything the session wrote (the platform scans it for personal data at rest). An
    exception here is an error of the session's last test."""
