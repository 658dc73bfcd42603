"""The safety module's web pages (filled in below)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("safety_web", __name__, url_prefix="/safety", template_folder="templates", static_folder="static")
