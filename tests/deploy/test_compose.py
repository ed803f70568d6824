"""docker-compose.yml against what the code reads: the real `docker-compose config` (1.29, no engine
needed) validates and normalizes it, then every command, port, URL and setting is checked against
the CLI, gunicorn, the Settings class and the app's routes."""
from __future__ import annotations

import ast
import http.server
import importlib.metadata
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from tests.deploy.deployfiles import (
    COMPOSE_FILE,
    ENV_EXAMPLE,
    ROOT,
    compose_variables,
    duration_seconds,
    get_endpoint,
    healthcheck_default_port,
    healthcheck_url_path,
    read_env_example,
    run_docker_compose,
)
from tests.live_server import stop_process

SERVICES = {"app", "worker", "qdrant", "postgres", "redis"}
BACKING = ("qdrant", "postgres", "redis")
# the port each backing image listens on (Qdrant HTTP, PostgreSQL, Redis)
SERVICE_PORTS = {"qdrant": 6333, "postgres": 5432, "redis": 6379}
# variables of app/worker that are not DocsTune settings, and who reads them
RUNTIME_VARIABLES = {"app": {"WEB_CONCURRENCY"}, "worker": set()}  # gunicorn's worker processes
# settings compose deliberately leaves to the image
NOT_IN_COMPOSE = {
    "SERVE_HOST": "the image listens on 0.0.0.0",
    "SERVE_PORT": "the port mapping and the health checks use the image's 7091",
    "QDRANT_PATH": "embedded Qdrant Edge only; compose runs a Qdrant server",
}


def _env(service: dict) -> dict[str, str]:
    """The variables a container gets (None: passed through from .env, unset when it is not there)."""
    return {k: v for k, v in (service.get("environment") or {}).items() if v is not None}


def _settings_of(service: dict, name: str):
    from application.settings import Settings

    values = {k: v for k, v in _env(service).items() if k not in RUNTIME_VARIABLES[name]}
    return Settings(_env_file=None, **values)


# -- the tool accepts the file -------------------------------------------------------------------------

def test_docker_compose_accepts_the_file_on_a_clean_clone():
    quiet = run_docker_compose("config", "--quiet")
    assert quiet.returncode == 0, f"`docker-compose config` rejects docker-compose.yml:\n{quiet.stderr}"
    services = run_docker_compose("config", "--services")
    assert services.returncode == 0, services.stderr
    assert set(services.stdout.split()) == SERVICES


def test_docker_compose_accepts_the_env_example(compose_with_env_example):
    example = read_env_example()
    postgres = compose_with_env_example["services"]["postgres"]["environment"]
    assert postgres["POSTGRES_PASSWORD"] == example.values["POSTGRES_PASSWORD"]


# -- app and worker: settings ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["app", "worker"])
def test_every_variable_of_app_and_worker_is_a_real_setting(compose, setting_names, name):
    variables = set(compose["services"][name]["environment"])
    unknown = variables - setting_names - RUNTIME_VARIABLES[name]
    assert not unknown, f"{name} sets {sorted(unknown)}, which no DocsTune setting reads (application/settings.py)"


@pytest.mark.parametrize("name", ["app", "worker"])
def test_every_setting_reaches_app_and_worker(compose, setting_names, name):
    variables = set(compose["services"][name]["environment"])
    missing = setting_names - variables - set(NOT_IN_COMPOSE)
    assert not missing, (f"{name} cannot be given {sorted(missing)} from .env: add `NAME:` to x-docstune-env "
                         f"in docker-compose.yml (or to NOT_IN_COMPOSE here, with the reason)")
    assert not set(NOT_IN_COMPOSE) & variables


def test_the_worker_gets_the_same_settings_as_the_app(compose):
    app, worker = compose["services"]["app"], compose["services"]["worker"]
    assert {k: v for k, v in app["environment"].items() if k not in RUNTIME_VARIABLES["app"]} == worker["environment"]


@pytest.mark.parametrize("config", ["compose", "compose_with_env_example"])
@pytest.mark.parametrize("name", ["app", "worker"])
def test_the_settings_are_valid_and_point_at_the_compose_services(request, config, name):
    compose = request.getfixturevalue(config)
    services = compose["services"]
    settings = _settings_of(services[name], name)

    assert settings.jobs_worker == "off", "the worker service runs the jobs, not the app's processes"

    qdrant = urlsplit(settings.qdrant_url)
    assert (qdrant.scheme, qdrant.hostname, qdrant.port) == ("http", "qdrant", SERVICE_PORTS["qdrant"])
    for url in (settings.redis_url, settings.rate_limit_storage_uri):
        redis = urlsplit(url)
        assert (redis.scheme, redis.hostname, redis.port) == ("redis", "redis", SERVICE_PORTS["redis"])

    from sqlalchemy.engine import make_url

    database = make_url(settings.database_url)
    assert database.drivername == "postgresql+psycopg"
    database.get_dialect()  # SQLAlchemy knows the driver name
    postgres = services["postgres"]["environment"]
    assert (database.host, database.port) == ("postgres", SERVICE_PORTS["postgres"])
    assert (database.username, database.password, database.database) == (
        postgres["POSTGRES_USER"], postgres["POSTGRES_PASSWORD"], postgres["POSTGRES_DB"])

    for service, port in SERVICE_PORTS.items():
        assert str(port) in [str(p) for p in services[service].get("expose", [])], f"{service} does not expose {port}"


@pytest.mark.parametrize("name", ["app", "worker"])
def test_data_models_and_uploads_are_shared_volumes(compose, name):
    services = compose["services"]
    settings = _settings_of(services[name], name)
    mounts = {}
    for volume in services[name]["volumes"]:
        source, target = volume.split(":")[:2]
        mounts[target] = source
    folders = {str(settings.data_dir), str(settings.models_dir), str(settings.data_dir / "uploads")}
    assert folders <= set(mounts), f"{name} mounts {sorted(mounts)}; it needs {sorted(folders)}"
    assert all(mounts[f] in compose["volumes"] for f in folders), "each is a named volume"
    assert services["app"]["volumes"] == services["worker"]["volumes"], "app and worker share every folder"


# -- .env.example --------------------------------------------------------------------------------------

def test_env_example_names_are_settings_or_compose_variables(compose, setting_names):
    example = read_env_example()
    compose_vars = compose_variables(COMPOSE_FILE.read_text())
    unknown = example.names - setting_names - compose_vars
    assert not unknown, f".env.example names {sorted(unknown)}, which neither DocsTune nor docker-compose.yml reads"
    wired = {k for k, v in compose["services"]["app"]["environment"].items() if v is not None}
    ignored = example.names & setting_names & wired
    assert not ignored, f"docker-compose.yml sets {sorted(ignored)} itself, so .env.example must not offer them"
    undocumented = compose_vars - set(example.values)
    assert not undocumented, f"docker-compose.yml reads {sorted(undocumented)}; give each a line in .env.example"


def test_env_example_values_reach_the_containers(compose_with_env_example, setting_names):
    example = read_env_example()
    for name in ("app", "worker"):
        environment = compose_with_env_example["services"][name]["environment"]
        for key, value in example.values.items():
            if key in setting_names:
                assert environment.get(key) == value, f"{key}={value} in .env does not reach {name}"


# -- commands ------------------------------------------------------------------------------------------

def _console_script(name: str) -> importlib.metadata.EntryPoint:
    scripts = [ep for ep in importlib.metadata.entry_points(group="console_scripts") if ep.name == name]
    assert scripts, f"no installed console script `{name}`"
    return scripts[0]


def test_the_app_command_is_gunicorn_with_the_config_and_the_wsgi_app(compose):
    command = compose["services"]["app"]["command"]
    assert command[0] == "gunicorn" and _console_script("gunicorn").value.startswith("gunicorn.")
    config = command[command.index("-c") + 1]
    assert config.startswith("python:") and importlib.util.find_spec(config.removeprefix("python:"))
    module_name, attribute = command[-1].split(":")
    assert module_name == "application.wsgi"
    tree = ast.parse(Path(importlib.util.find_spec(module_name).origin).read_text())
    assigned = {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets
                if isinstance(t, ast.Name)}
    assert attribute in assigned, f"{module_name} has no module-level `{attribute}`"


def test_the_worker_command_is_a_docstune_command(compose):
    from application.cli import main

    command = compose["services"]["worker"]["command"]
    assert command[0] == "docstune" and _console_script("docstune").value == "application.cli:main"
    result = CliRunner().invoke(main, [*command[1:], "--help"])
    assert result.exit_code == 0, result.output
    assert "Run background jobs" in result.output


def _gunicorn_view(env: dict[str, str], command: list[str], cwd: Path) -> dict:
    """How gunicorn itself reads ``command`` under ``env``: its config file, GUNICORN_CMD_ARGS, flags."""
    script = (
        "import json, sys\n"
        "from gunicorn.app.wsgiapp import WSGIApplication\n"
        "sys.argv = sys.argv[1:]\n"
        "app = WSGIApplication('%(prog)s [OPTIONS] [APP_MODULE]', prog='gunicorn')\n"
        "cfg = app.cfg\n"
        "cfg.on_starting(type('Arbiter', (), {'cfg': cfg})())  # DocsTune's check; SystemExit if refused\n"
        "print(json.dumps({'bind': cfg.bind, 'workers': cfg.workers, 'threads': cfg.threads,\n"
        "                  'worker_class': cfg.worker_class_str, 'graceful_timeout': cfg.graceful_timeout,\n"
        "                  'app_uri': app.app_uri}))\n"
    )
    result = subprocess.run([sys.executable, "-c", script, *command], env=env, cwd=cwd,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"gunicorn refuses {command}:\n{result.stdout}\n{result.stderr}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_gunicorn_binds_the_published_port_with_several_workers(compose, dockerfile, tmp_path):
    app = compose["services"]["app"]
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "HF_HUB_OFFLINE": "1",
           **dockerfile.env(), **_env(app)}
    view = _gunicorn_view(env, app["command"], tmp_path)

    (port,) = app["ports"]
    assert view["bind"] == [f"0.0.0.0:{port['target']}"]
    assert view["app_uri"] == "application.wsgi:app"
    assert view["worker_class"] == "gthread"
    assert view["workers"] == int(env["WEB_CONCURRENCY"]) > 1, "several worker processes"
    assert view["graceful_timeout"] < duration_seconds(app["stop_grace_period"]), \
        "docker would kill gunicorn before running requests finish"
    assert healthcheck_default_port(app["healthcheck"]["test"]) == port["target"]


def test_gunicorn_refuses_several_workers_on_the_embedded_qdrant_edge(compose, tmp_path):
    """The real command, with the embedded Qdrant Edge: gunicorn stops at once, saying why."""
    gunicorn = shutil.which("gunicorn") or str(Path(sys.executable).with_name("gunicorn"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "HF_HUB_OFFLINE": "1", "DATA_DIR": str(tmp_path),
           "SERVE_HOST": "127.0.0.1", "SERVE_PORT": str(port), "WEB_CONCURRENCY": "3"}
    command = [gunicorn, *compose["services"]["app"]["command"][1:]]
    result = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "set QDRANT_URL" in result.stdout + result.stderr


# -- health checks and start order ---------------------------------------------------------------------

def test_app_healthcheck_asks_the_readiness_route(compose, url_map):
    test = compose["services"]["app"]["healthcheck"]["test"]
    assert test[:2] == ["CMD", "python"]
    assert get_endpoint(url_map, healthcheck_url_path(test)) == "health.ready"


def test_worker_healthcheck_passes_while_a_worker_runs_and_fails_once_it_is_gone(compose, tmp_path):
    test = compose["services"]["worker"]["healthcheck"]["test"]
    assert test[:2] == ["CMD", "docstune"]
    docstune = shutil.which("docstune") or str(Path(sys.executable).with_name("docstune"))
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "HF_HUB_OFFLINE": "1"}

    def healthcheck() -> subprocess.CompletedProcess:
        return subprocess.run([docstune, *test[2:]], env=env, cwd=tmp_path, capture_output=True, text=True,
                              timeout=60)

    before = healthcheck()
    assert before.returncode == 1 and "No worker heartbeat" in before.stderr, before.stderr
    worker = subprocess.Popen([docstune, *compose["services"]["worker"]["command"][1:]], env=env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while (alive := healthcheck()).returncode != 0:
            assert worker.poll() is None, "the worker exited"
            assert time.monotonic() < deadline, alive.stderr
            time.sleep(1)
        assert alive.stdout.startswith("worker alive: heartbeat") and f"pid {worker.pid}" in alive.stdout
    finally:
        assert stop_process(worker, timeout=60) == 0  # SIGTERM: a clean stop removes its heartbeat
    after = healthcheck()
    assert after.returncode == 1 and "No worker heartbeat" in after.stderr


def test_backing_services_are_healthy_before_app_and_worker_start(compose):
    services = compose["services"]
    for name in BACKING:
        check = services[name].get("healthcheck")
        assert check and not check.get("disable") and check.get("test"), f"{name} has no health check"
    for name in ("app", "worker"):
        depends = services[name]["depends_on"]
        for backing in BACKING:
            assert depends[backing] == {"condition": "service_healthy"}, f"{name} does not wait for {backing}"


def test_backing_healthchecks_use_tools_of_their_images(compose):
    services = compose["services"]
    postgres = " ".join(services["postgres"]["healthcheck"]["test"])
    assert "pg_isready" in postgres and "-h 127.0.0.1" in postgres
    for variable in ("POSTGRES_USER", "POSTGRES_DB"):  # expanded by the container's shell ($$ escapes compose)
        assert f"$${{{variable}}}" in postgres and variable in services["postgres"]["environment"]
    assert "redis-cli ping" in " ".join(services["redis"]["healthcheck"]["test"])
    qdrant = services["qdrant"]["healthcheck"]["test"]
    assert qdrant[:2] == ["CMD", "bash"], "the Qdrant image has no curl or wget, but bash"
    assert f"/dev/tcp/127.0.0.1/{SERVICE_PORTS['qdrant']}" in qdrant[-1] and "GET /readyz" in qdrant[-1]


class _FakeQdrant(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):  # noqa: N802
        code = self.status if self.path == "/readyz" else 404
        self.send_response(code)
        self.end_headers()
        self.wfile.write(b"all shards are ready" if code == 200 else b"no")

    def log_message(self, *args):
        pass


def test_qdrant_healthcheck_script_passes_only_when_readyz_answers_200(compose):
    script = compose["services"]["qdrant"]["healthcheck"]["test"][-1]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FakeQdrant)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]

    def check() -> int:
        here = script.replace(f"/dev/tcp/127.0.0.1/{SERVICE_PORTS['qdrant']}", f"/dev/tcp/127.0.0.1/{port}")
        return subprocess.run(["bash", "-c", here], capture_output=True, timeout=30).returncode

    try:
        _FakeQdrant.status = 200
        assert check() == 0
        _FakeQdrant.status = 503
        assert check() != 0
    finally:
        server.shutdown()
        server.server_close()
    assert check() != 0, "nothing listens: unhealthy"


# -- images --------------------------------------------------------------------------------------------

def test_images_are_pinned_and_qdrant_matches_the_client(compose):
    services = compose["services"]
    for name in BACKING:
        image = services[name]["image"]
        repository, _, tag = image.partition(":")
        assert tag and tag != "latest" and any(c.isdigit() for c in tag), f"{name}: pin a version, not {image!r}"
    server = services["qdrant"]["image"].split(":v")[1].split(".")
    client = importlib.metadata.version("qdrant-client").split(".")
    # qdrant-client warns unless the server has the same major version and a minor version at most 1 apart
    assert server[0] == client[0] and abs(int(server[1]) - int(client[1])) <= 1, (server, client)
    assert services["app"]["image"] == services["worker"]["image"] and services["app"]["build"]["context"] == str(ROOT)
