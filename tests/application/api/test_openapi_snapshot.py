"""The web UI is built against the app's description: ``frontend/openapi.json`` (``/api/openapi.json`` with
the default settings) and the TypeScript ``openapi-typescript`` generates from it (``src/lib/api-schema.ts``,
which ``src/lib/types.ts`` re-exports). After a route's models change, ``make api-types`` writes both."""
from __future__ import annotations

import subprocess
from pathlib import Path

FRONTEND = Path(__file__).resolve().parents[3] / "frontend"
STALE = "stale: run `make api-types` and commit frontend/openapi.json and frontend/src/lib/api-schema.ts"


def test_the_web_uis_copy_of_the_description_is_the_apps():
    from application.api.openapi_snapshot import default_description, render

    assert (FRONTEND / "openapi.json").read_text(encoding="utf-8") == render(default_description()), STALE


def test_the_web_uis_types_are_generated_from_that_description():
    assert (FRONTEND / "node_modules" / ".bin" / "openapi-typescript").exists(), \
        "openapi-typescript is not installed in frontend/: run `make frontend`"
    # the package's own script (its options written once), asked only to compare
    check = subprocess.run(["npm", "run", "--silent", "api-types", "--", "--check"], cwd=FRONTEND,
                           capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, f"{STALE}\n{check.stdout}{check.stderr}"

