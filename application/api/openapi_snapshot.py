"""The description the web UI is built against: ``frontend/openapi.json``, the app's ``/api/openapi.json`` with
the default settings, from which ``openapi-typescript`` generates ``frontend/src/lib/api-schema.d.ts``.

``make api-types`` writes both after a route's models change; a test fails while either is stale. Example::

    python -m application.api.openapi_snapshot frontend/openapi.json
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path


def default_description() -> dict:
    """``/api/openapi.json`` of an app with every setting at its default (none read from the environment or
    ``.env``): the same on every machine."""
    from application.api import close_app, create_app
    from application.api.openapi import openapi_document
    from application.settings import Settings

    defaults = {field.alias or name.upper(): field.get_default(call_default_factory=True)
                for name, field in Settings.model_fields.items()}
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(_env_file=None, **{**defaults, "DATA_DIR": Path(data_dir), "JOBS_WORKER": "off"})
        app = create_app(settings)
        try:
            return json.loads(json.dumps(openapi_document(app)))  # as the client reads it
        finally:
            close_app(app)


def render(document: dict) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    Path(sys.argv[1]).write_text(render(default_description()), encoding="utf-8")
