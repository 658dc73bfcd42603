"""Import every core model so ``Base.metadata`` holds the whole core schema.

Plugins' models are imported when their modules load (``PluginHost``).
"""
from core import audit, idempotency, letters, models, oauth, transfers  # noqa: F401
from core.cases import models as case_models  # noqa: F401

INFRASTRUCTURE_TABLES = frozenset({"alembic_version", "pingan_id_seq"})
