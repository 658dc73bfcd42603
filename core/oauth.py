"""OAuth 2 authorization server (Authlib). Being built: see issue 2."""
from __future__ import annotations


def register(api) -> None:
    return None


def bearer_user(session, token):
    return None, None
