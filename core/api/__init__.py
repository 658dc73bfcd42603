"""The core's REST API, registered on the flask-smorest ``Api`` by ``create_app``."""
from __future__ import annotations


def register_core_api(api) -> None:
    from core.api import (audit_log, cases, health, inbox, modules, network, org_units, persons, roles, tokens,
                          users)
    for module in (org_units, users, roles, network, persons, modules, audit_log, tokens, cases, inbox):
        api.register_blueprint(module.blp)
    api.register_blueprint(users.me_blp)
    api.register_blueprint(cases.tasks_blp)
    from core.api import intake as intake_api
    api.register_blueprint(intake_api.blp)
    from core.api import case_config
    api.register_blueprint(case_config.blp)
    from core.api import attachments, documents
    for module in (attachments, documents):
        api.register_blueprint(module.blp)
    from core.api import case_stats
    api.register_blueprint(case_stats.blp)
    from core.api import letters as letters_api
    api.register_blueprint(letters_api.blp)
    from core.api import transfers as transfers_api
    api.register_blueprint(transfers_api.blp)
    from core.api import jobs as jobs_api, ledgers as ledgers_api
    for module in (ledgers_api, jobs_api):
        api.register_blueprint(module.blp)
    api._app.register_blueprint(health.blp)
    from core import oauth
    from core.api import oauth_clients
    oauth.register(api._app)
    api.register_blueprint(oauth_clients.blp)
