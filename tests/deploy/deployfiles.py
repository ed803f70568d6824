"""Readers of the deployment files: the real `docker-compose config`, the Dockerfile, .env.example, .dockerignore.

There is no Docker engine in the tests: Debian's docker-compose 1.29 parses, validates and
normalizes the compose file without one, and the Dockerfile is read here instruction by
instruction (it is never built).
"""
from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERIGNORE = ROOT / ".dockerignore"


# -- docker-compose ---------------------------------------------------------------------------------

def docker_compose_executable() -> str:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail(
            "docker-compose is not installed, so docker-compose.yml cannot be checked. "
            "Run `make system-packages` (it installs Debian's docker-compose 1.29, which validates "
            "the file without a Docker engine).",
            pytrace=False,
        )
    return exe


def run_docker_compose(*args: str, env_file: Path | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """`docker-compose [--env-file F] -f docker-compose.yml ARGS` with nothing from the test's own
    environment, so the shell's variables never leak into the interpolation."""
    command = [docker_compose_executable()]
    if env_file is not None:
        command += ["--env-file", str(env_file)]
    command += ["-f", str(COMPOSE_FILE), *args]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
           "LANG": "C.UTF-8"}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def compose_config(env_file: Path) -> dict:
    """The normalized file as docker-compose prints it, with the variables of ``env_file``."""
    result = run_docker_compose("config", env_file=env_file)
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    return yaml.safe_load(result.stdout)


def compose_variables(text: str) -> set[str]:
    """Names interpolated as ``${NAME}``, ``${NAME:-default}`` ... (``$${...}`` is an escaped ``$``)."""
    return set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:[:?\-][^}]*)?\}", text))


def duration_seconds(value: str) -> float:
    """Compose durations: ``45s``, ``2m``, ``1m30s``, ``500ms``."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", str(value))
    assert parts and "".join(n + u for n, u in parts) == str(value), f"not a duration: {value!r}"
    return sum(float(n) * units[u] for n, u in parts)


def get_endpoint(url_map, path: str) -> str:
    """The endpoint of the app that a GET of ``path`` reaches (a 404 or 405 raises)."""
    endpoint, _ = url_map.bind("localhost").match(path, method="GET")
    return endpoint


def healthcheck_url_path(command: list[str]) -> str:
    """The path that a ``python -c "... urlopen('http://127.0.0.1:%s/PATH' ...)"`` health check asks for."""
    match = re.search(r"http://127\.0\.0\.1:%s(/[^'\"]*)['\"]", " ".join(command))
    assert match, f"no http://127.0.0.1:%s/... URL in the health check {command}"
    return match.group(1)


def healthcheck_default_port(command: list[str]) -> int:
    match = re.search(r"os\.environ\.get\('SERVE_PORT', '(\d+)'\)", " ".join(command))
    assert match, f"the health check {command} does not read SERVE_PORT"
    return int(match.group(1))


# -- .env.example -------------------------------------------------------------------------------------

@dataclass
class EnvExample:
    values: dict[str, str]          # KEY=value lines
    commented: dict[str, str]       # "# KEY=value" examples

    @property
    def names(self) -> set[str]:
        return set(self.values) | set(self.commented)


def read_env_example(path: Path = ENV_EXAMPLE) -> EnvExample:
    values, commented = {}, {}
    for line in path.read_text().splitlines():
        match = re.match(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$", line.strip())
        if match:
            (commented if match.group(1) else values)[match.group(2)] = match.group(3)
    return EnvExample(values, commented)


# -- Dockerfile ---------------------------------------------------------------------------------------

@dataclass
class Instruction:
    keyword: str
    value: str
    stage: str

    @property
    def exec_form(self) -> list[str] | None:
        text = self.value.strip()
        return json.loads(text) if text.startswith("[") else None


@dataclass
class Dockerfile:
    instructions: list[Instruction]
    stages: list[tuple[str, str]] = field(default_factory=list)  # (image, name)

    def in_stage(self, stage: str, keyword: str | None = None) -> list[Instruction]:
        return [i for i in self.instructions if i.stage == stage and (keyword is None or i.keyword == keyword)]

    @property
    def final_stage(self) -> str:
        return self.stages[-1][1]

    def args(self) -> dict[str, str]:
        """ARG defaults of the final stage (and global ones)."""
        found = {}
        for ins in self.instructions:
            if ins.keyword == "ARG" and "=" in ins.value:
                name, default = ins.value.split("=", 1)
                found[name.strip()] = default.strip().strip('"')
        return found

    def env(self, stage: str | None = None) -> dict[str, str]:
        values = {}
        for ins in self.in_stage(stage or self.final_stage, "ENV"):
            for token in shlex.split(ins.value):
                name, _, value = token.partition("=")
                values[name] = value
        return values

    def expand(self, text: str) -> str:
        args = self.args()
        return re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: args.get(m.group(1), m.group(0)), text)

    def workdir(self, stage: str, before: Instruction | None = None) -> PurePosixPath:
        current = PurePosixPath("/")
        for ins in self.in_stage(stage):
            if ins is before:
                break
            if ins.keyword == "WORKDIR":
                current = current / ins.value.strip()
        return current

    def copies(self, stage: str) -> list[tuple[str | None, list[str], PurePosixPath]]:
        """(``--from`` stage or None, sources, absolute destination) of each COPY of ``stage``."""
        found = []
        for ins in self.in_stage(stage, "COPY"):
            tokens = ins.exec_form or shlex.split(ins.value)
            source_stage = None
            while tokens[0].startswith("--"):
                flag = tokens.pop(0)
                if flag.startswith("--from="):
                    source_stage = flag.split("=", 1)[1]
            *sources, destination = tokens
            found.append((source_stage, sources, self.workdir(stage, ins) / destination))
        return found


def read_dockerfile(path: Path = DOCKERFILE) -> Dockerfile:
    logical, current = [], ""
    for raw in path.read_text().splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not current):
            continue  # comments, also inside a continued instruction (Docker drops them too)
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        if current.strip():
            logical.append(current.strip())
        current = ""
    dockerfile = Dockerfile([])
    stage = ""
    for line in logical:
        keyword, _, value = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            tokens = [t for t in value.split() if not t.startswith("--")]  # --platform=...
            image = tokens[0]
            stage = tokens[2] if len(tokens) >= 3 and tokens[1].lower() == "as" else str(len(dockerfile.stages))
            dockerfile.stages.append((image, stage))
        dockerfile.instructions.append(Instruction(keyword, value.strip(), stage))
    return dockerfile


def healthcheck_command(instruction: Instruction) -> tuple[dict[str, str], list[str]]:
    """(options, the command in exec form) of a HEALTHCHECK."""
    options, _, command = instruction.value.partition("CMD")
    parsed = dict(re.findall(r"--([a-z-]+)=(\S+)", options))
    command = command.strip()
    return parsed, json.loads(command) if command.startswith("[") else ["/bin/sh", "-c", command]


# -- .dockerignore ----------------------------------------------------------------------------------

def dockerignored(relative: str, path: Path = DOCKERIGNORE) -> bool:
    """Whether the build context leaves ``relative`` (or a folder above it) out."""
    patterns = [p.strip() for p in path.read_text().splitlines() if p.strip() and not p.strip().startswith("#")]
    parts = PurePosixPath(relative.strip("/")).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        forms = {pattern}
        if pattern.startswith("**/"):
            forms.add(pattern[3:])
        for candidate in candidates:
            names = {candidate} | ({PurePosixPath(candidate).name} if pattern.startswith("**/") else set())
            if any(fnmatch.fnmatchcase(name, form) for name in names for form in forms):
                excluded = not negate
    return excluded
