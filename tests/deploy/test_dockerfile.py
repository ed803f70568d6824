"""The Dockerfile against the code and docker-compose.yml. No Docker engine here: the file is read
instruction by instruction (tests/deploy/deployfiles.py), never built."""
from __future__ import annotations

import configparser
import json
import re
import shlex
from pathlib import PurePosixPath

from packaging.requirements import Requirement

from tests.deploy.deployfiles import (
    ROOT,
    dockerignored,
    get_endpoint,
    healthcheck_command,
    healthcheck_default_port,
    healthcheck_url_path,
)

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# environment of the image that is not a DocsTune setting: Python, pip and Hugging Face's own switches
LIBRARY_VARIABLES = {"PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "PIP_NO_CACHE_DIR",
                     "PIP_DISABLE_PIP_VERSION_CHECK", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"}


def _install_requires() -> dict[str, Requirement]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    lines = [line.strip() for line in config["options"]["install_requires"].splitlines() if line.strip()]
    return {Requirement(line).name.lower(): Requirement(line) for line in lines}


def _runs(dockerfile, stage):
    return [dockerfile.expand(i.value) for i in dockerfile.in_stage(stage, "RUN")]


def _pip_installs(command: str) -> list[list[str]]:
    """The argument lists of each `pip install` in a RUN."""
    found = []
    for part in re.split(r"&&|;|\|\|", command):
        tokens = shlex.split(part)
        if "pip" in [PurePosixPath(t).name for t in tokens[:3]] and "install" in tokens:
            found.append(tokens[tokens.index("install") + 1:])
    return found


def test_the_web_ui_is_built_in_a_node_stage(dockerfile):
    (node_image, web), (python_image, app) = dockerfile.stages
    assert node_image.startswith("node:") and python_image == "python:3.11-slim"
    runs = " && ".join(_runs(dockerfile, web))
    assert "npm ci" in runs and "npm run build" in runs
    assert "build" in json.loads((ROOT / "frontend" / "package.json").read_text())["scripts"]
    assert re.search(r"outDir:\s*[\"']dist[\"']", (ROOT / "frontend" / "vite.config.ts").read_text())
    (from_web,) = [c for c in dockerfile.copies(app) if c[0] == web]
    assert from_web[1] == [str(dockerfile.workdir(web) / "dist")], "the copied folder is Vite's outDir"


def test_the_ui_build_lands_where_the_api_serves_it(dockerfile):
    """application/api/web.py serves <folder above the package>/frontend/dist, so the package must be
    installed in place (`pip install -e .`) from the folder that gets frontend/dist."""
    from application.api.web import DEFAULT_DIST_DIR

    app = dockerfile.final_stage
    copies = dockerfile.copies(app)
    (package_destination,) = [dest for source_stage, sources, dest in copies
                              if source_stage is None and sources == ["application"]]
    (dist_destination,) = [dest for source_stage, _, dest in copies if source_stage is not None]
    expected = package_destination.parent / PurePosixPath(DEFAULT_DIST_DIR.relative_to(ROOT).as_posix())
    assert dist_destination == expected

    runs = _runs(dockerfile, app)
    editable = [i for i, run in enumerate(runs) for args in _pip_installs(run) if "-e" in args and "." in args]
    assert editable, "the package is installed in place (pip install -e .), so frontend/dist sits next to it"
    assert dockerfile.workdir(app) == package_destination.parent


def test_cpu_torch_is_installed_before_the_project(dockerfile):
    runs = _runs(dockerfile, dockerfile.final_stage)
    torch_pin = str(_install_requires()["torch"].specifier)
    torch_at = project_at = None
    for index, run in enumerate(runs):
        for args in _pip_installs(run):
            if any(a.startswith("torch") for a in args):
                assert f"torch{torch_pin}" in args, f"the image's torch must be setup.cfg's torch{torch_pin}"
                assert args[args.index("--index-url") + 1] == CPU_INDEX, "torch comes from PyTorch's CPU index"
                torch_at = index if torch_at is None else torch_at
            if "." in args and project_at is None:
                project_at = index
    assert torch_pin == "==2.13.0"
    assert torch_at is not None and project_at is not None and torch_at < project_at, \
        "torch (CPU) first, so installing DocsTune keeps it and pulls no CUDA wheels"


def test_the_drivers_of_the_compose_urls_are_dependencies():
    requires = _install_requires()
    assert "psycopg" in requires, "DATABASE_URL=postgresql+psycopg://... needs psycopg in the image"
    assert "redis" in requires, "REDIS_URL and RATE_LIMIT_STORAGE_URI=redis://... need redis in the image"
    assert "gunicorn" in requires


def test_environment_user_volume_and_port(dockerfile, compose, setting_names):
    from application.settings import Settings

    env = dockerfile.env()
    unknown = set(env) - setting_names - LIBRARY_VARIABLES
    assert not unknown, f"the image sets {sorted(unknown)}, which nothing reads"
    settings = Settings(_env_file=None, **{k: v for k, v in env.items() if k in setting_names})
    assert env["HF_HUB_OFFLINE"] == "1", "model weights never come from the network"
    assert settings.serve_host == "0.0.0.0"

    app = dockerfile.final_stage
    volumes = [v for i in dockerfile.in_stage(app, "VOLUME") for v in (i.exec_form or i.value.split())]
    assert str(settings.data_dir) in volumes
    assert compose["services"]["app"]["environment"]["DATA_DIR"] == str(settings.data_dir)

    (expose,) = [i.value for i in dockerfile.in_stage(app, "EXPOSE")]
    (published,) = compose["services"]["app"]["ports"]
    assert int(expose) == settings.serve_port == published["target"]

    users = [i.value for i in dockerfile.in_stage(app, "USER")]
    assert users and users[-1] not in ("root", "0", "0:0"), "the service runs without privileges"
    runs = " ".join(_runs(dockerfile, app))
    assert re.search(rf"useradd\b[^&]*\b{users[-1]}\b", runs) and f"chown -R {users[-1]}" in runs
    assert str(settings.data_dir) in runs.split(f"chown -R {users[-1]}")[1].split("&&")[0].split()[-1:]


def test_the_default_command_is_the_compose_app_command(dockerfile, compose):
    (cmd,) = dockerfile.in_stage(dockerfile.final_stage, "CMD")
    assert cmd.exec_form == compose["services"]["app"]["command"]
    assert not dockerfile.in_stage(dockerfile.final_stage, "ENTRYPOINT")


def test_the_healthcheck_asks_the_liveness_route(dockerfile, url_map):
    (check,) = dockerfile.in_stage(dockerfile.final_stage, "HEALTHCHECK")
    options, command = healthcheck_command(check)
    assert command[0] == "python" and {"interval", "timeout", "start-period"} <= set(options)
    assert get_endpoint(url_map, healthcheck_url_path(command)) == "health.health"
    assert str(healthcheck_default_port(command)) == dockerfile.env()["SERVE_PORT"]


def test_the_build_context_has_what_the_dockerfile_copies_and_no_secrets(dockerfile):
    for stage in (name for _, name in dockerfile.stages):
        for source_stage, sources, _ in dockerfile.copies(stage):
            if source_stage is not None:
                continue
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: no such file"
                assert not dockerignored(source), f"COPY {source}: .dockerignore leaves it out"
    for private in (".env", ".venv", "data", "frontend/node_modules", ".git"):
        assert dockerignored(private), f"{private} must stay out of the image"
    assert not dockerignored(".env.example") and not dockerignored("frontend/src/main.tsx")
