"""docs/architecture.md's "a route is one file" example works as written: its route answers, the group's admin
check and the text type apply without a line of their own, and the description lists it."""
import re
import sys
import types
from pathlib import Path

ARCHITECTURE = Path(__file__).resolve().parents[3] / "docs" / "architecture.md"


def test_the_route_in_docs_architecture_works_as_written(make_app, admin_headers, monkeypatch):
    import application.api as api

    code = re.search(r"```python\n# application/api/glossary.py\n(.*?)```", ARCHITECTURE.read_text(), re.S).group(1)
    module = types.ModuleType("application.api.glossary")
    module.find_term = lambda db, term_id: {"id": term_id, "text": f"the term {term_id}"}  # what the example calls
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(code, str(ARCHITECTURE), "exec"), module.__dict__)
    monkeypatch.setattr(api, "BLUEPRINTS", (*api.BLUEPRINTS, module.bp))
    client = make_app().test_client()

    assert client.get("/api/admin/glossary/t1", headers=admin_headers).get_json() == {"id": "t1", "text": "the term t1"}
    assert client.get("/api/admin/glossary/t1").status_code == 401  # ADMIN's check
    refused = client.get("/api/admin/glossary/a%00b", headers=admin_headers)
    assert refused.status_code == 400 and "'term_id'" in refused.get_json()["error"]  # Text's rule
    operation = client.get("/api/openapi.json").get_json()["paths"]["/api/admin/glossary/{term_id}"]["get"]
    assert operation["operationId"] == "getTerm" and operation["security"] == [{"adminToken": []}]
    assert client.get("/api/admin/glossary/t1", headers=admin_headers).headers["Cache-Control"] == "no-store"
