"""The Docker image, built without a container engine (this machine has none).

The test reads the Dockerfile and .dockerignore as a builder does: it
assembles the build context into a temporary directory (what .dockerignore
keeps out never reaches it), then plays each stage in order in a directory
standing for the image's file system (an image path `/opt/venv` is
`<root>/opt/venv`, the same path in every stage, as in the image): ENV,
WORKDIR, COPY (from the context or `--from` an earlier stage, whose files are
gone once the next stage starts) and the RUN install steps, with a fresh
virtualenv made by the machine's Python 3.11 standing for the base image's.
A `--mount=type=cache` is the machine's pip cache and configuration. RUN
steps that manage system accounts (`groupadd`, `useradd`, `install -o`)
need the base image's root and are checked, not run. Then it starts the
image's CMD from that tree against an empty test database (published on a
free port: `-p PORT:8000`), waits for /readyz, runs the HEALTHCHECK command,
and stops it with the STOPSIGNAL within SHUTDOWN_TIMEOUT.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from dockerfile_parse import DockerfileParser

from app.db.migrations import head_revision
from tests.helpers import TEST_JWT_SECRET, free_port, wait_ready

ROOT = Path(__file__).resolve().parent.parent
IMAGE_PORT = "8000"
# First components of image paths that are the base image's (or the
# machine's): left as they are in RUN commands.
SYSTEM_DIRS = frozenset(
    {"usr", "bin", "sbin", "etc", "dev", "proc", "sys", "tmp", "lib", "lib64", "root"}
)
# What a RUN step that is not an install step may do (the test cannot).
ACCOUNT_COMMANDS = ("groupadd", "useradd", "install -d -o")


# --- .dockerignore, as the builder reads it --------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Docker's pattern syntax (Go's filepath.Match plus `**`) as a regex."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def read_dockerignore(path: Path) -> list[tuple[bool, str, re.Pattern[str]]]:
    """(negated, pattern, regex) per rule, in order: the last match wins."""
    rules = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        rules.append((negated, pattern, _pattern_regex(pattern)))
    return rules


def is_ignored(relative: str, rules: list[tuple[bool, str, re.Pattern[str]]]) -> bool:
    """A path is out when the last rule matching it or one of its parent
    directories excludes it (moby's patternmatcher)."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for negated, _, regex in rules:
        if any(regex.fullmatch(p) for p in prefixes):
            ignored = not negated
    return ignored


def build_context(source: Path, into: Path) -> None:
    """Copy what the builder would send: everything .dockerignore lets through."""
    rules = read_dockerignore(source / ".dockerignore")
    negations = [pattern for negated, pattern, _ in rules if negated]
    for directory, dirs, files in os.walk(source):
        here = Path(directory).relative_to(source)
        for name in list(dirs):
            rel = (here / name).as_posix()
            # Skip a whole ignored tree unless an exception may re-include below it.
            if is_ignored(rel, rules) and not any(n.startswith(rel + "/") for n in negations):
                dirs.remove(name)
        for name in files:
            rel = (here / name).as_posix()
            if not is_ignored(rel, rules):
                (into / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source / rel, into / rel)


# --- the Dockerfile, played stage by stage ------------------------------------


@dataclass
class Image:
    """What the final stage leaves: its configuration, and what was skipped."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    user: str = "root"
    cmd: list[str] = field(default_factory=list)
    healthcheck: list[str] = field(default_factory=list)
    stopsignal: str = "SIGTERM"
    account_steps: list[str] = field(default_factory=list)
    install_steps: list[str] = field(default_factory=list)
    bases: list[str] = field(default_factory=list)


def host_path(root: Path, image_path: str, workdir: str = "/") -> Path:
    return root / os.path.normpath(os.path.join(workdir, image_path)).lstrip("/")


def map_paths(root: Path, text: str) -> str:
    """Image paths in a command or value → their place under `root`."""

    def replace(match: re.Match[str]) -> str:
        path = match.group(0)
        if path.split("/")[1] in SYSTEM_DIRS:
            return path
        return str(root) + path

    return re.sub(r"(?<![\w.~$/-])/[\w.-]+(?:/[\w.-]+)*/?", replace, text)


def parse_env(value: str, env: dict[str, str]) -> dict[str, str]:
    out = {}
    for item in shlex.split(value):
        key, _, val = item.partition("=")
        out[key] = re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), ""), val)
    return out


def play(dockerfile: Path, context: Path, root: Path, base_env: dict[str, str]) -> Image:
    """Run the Dockerfile's stages in `root` (one stage's files at a time)."""
    parser = DockerfileParser(str(dockerfile))
    image = Image(root)
    stages: dict[str, Path] = {}
    stage_name = ""
    env: dict[str, str] = {}

    def finish_stage() -> None:
        if stage_name and root.exists():
            kept = root.with_name(f"{root.name}-stage-{stage_name}")
            root.rename(kept)
            stages[stage_name] = kept

    for item in parser.structure:
        instruction, value = item["instruction"], item["value"]
        if instruction == "FROM":
            finish_stage()
            base, _, alias = value.partition(" AS ")
            stage_name = alias.strip() or f"#{len(stages)}"
            image.bases.append(base.strip())
            root.mkdir()
            env = dict(base_env)
            image.env, image.workdir, image.user = {}, "/", "root"
        elif instruction == "ENV":
            values = parse_env(value, env)
            image.env.update(values)
            env.update({k: map_paths(root, v) for k, v in values.items()})
        elif instruction == "WORKDIR":
            image.workdir = os.path.normpath(os.path.join(image.workdir, value))
            host_path(root, image.workdir).mkdir(parents=True, exist_ok=True)
        elif instruction == "COPY":
            words = shlex.split(value)
            flags = dict(w[2:].split("=", 1) for w in words if w.startswith("--"))
            *sources, dest = [w for w in words if not w.startswith("--")]
            origin = stages[flags["from"]] if "from" in flags else context
            target = host_path(root, dest, image.workdir)
            for source in sources:
                found = host_path(origin, source) if "from" in flags else origin / source
                assert found.exists(), f"COPY {source}: not in the build context"
                if found.is_dir():
                    shutil.copytree(found, target, symlinks=True, dirs_exist_ok=True)
                elif dest.endswith("/") or len(sources) > 1:
                    target.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(found, target / found.name)
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(found, target)
        elif instruction == "RUN":
            command = value
            while command.startswith("--"):
                flag, _, command = command.partition(" ")
                command = command.strip()
                # A cache mount is the builder's cache: here the machine's pip cache.
                assert flag.startswith("--mount=type=cache"), flag
            if any(word in command for word in ACCOUNT_COMMANDS):
                image.account_steps.append(command)
                continue
            image.install_steps.append(command)
            done = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", map_paths(root, command)],
                cwd=host_path(root, image.workdir),
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
            )
            assert done.returncode == 0, (
                f"RUN {command}\n{done.stdout[-3000:]}{done.stderr[-5000:]}"
            )
        elif instruction == "USER":
            image.user = value
        elif instruction == "CMD":
            image.cmd = json.loads(value)
        elif instruction == "HEALTHCHECK":
            image.healthcheck = json.loads(value.split(" CMD ", 1)[1])
        elif instruction == "STOPSIGNAL":
            image.stopsignal = value
    for kept in stages.values():  # the runtime stage has only what it copied
        shutil.rmtree(kept)
    return image


def machine_base_env(tmp_path: Path) -> dict[str, str]:
    """The base image's environment: its `python` and `pip` are those of a
    throwaway virtualenv of the machine's Python 3.11 (so a RUN step that
    installs into the base interpreter changes nothing of the machine's),
    with the machine's pip configuration (its cache and index settings
    stand for the builder's)."""
    base = tmp_path / "base-image-python"
    subprocess.run([sys.executable, "-m", "venv", str(base)], check=True, timeout=300)
    env = {"PATH": f"{base / 'bin'}:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")}
    env |= {k: v for k, v in os.environ.items() if k.startswith("PIP_") or k.endswith("_proxy")}
    return env


@pytest.mark.pure
def test_the_dockerignore_keeps_local_state_out(tmp_path: Path) -> None:
    context = tmp_path / "context"
    build_context(ROOT, context)
    sent = {p.relative_to(context).as_posix() for p in context.rglob("*")}
    for kept_out in ("tests", ".venv", ".git", ".creatoros", "bench", ".env"):
        assert kept_out not in sent
    assert not [p for p in sent if "__pycache__" in p or ".egg-info" in p], sent
    assert {"app/main.py", "client/pyproject.toml", "alembic/env.py", "pyproject.toml"} <= sent


def test_the_image_builds_and_serves(tmp_path: Path, empty_database: str) -> None:
    """~1-2 min: a fresh virtualenv with the service and its dependencies."""
    context = tmp_path / "context"
    build_context(ROOT, context)
    image = play(ROOT / "Dockerfile", context, tmp_path / "image", machine_base_env(tmp_path))

    assert len(image.bases) >= 2, "multi-stage: the build tools stay out of the runtime image"
    assert all(b.startswith("python:3.11") for b in image.bases), image.bases
    assert image.user not in ("root", "0", ""), "the service runs as an unprivileged user"
    assert image.account_steps and "useradd" in " ".join(image.account_steps)
    assert image.install_steps, "the install ran"
    assert image.stopsignal == "SIGTERM"
    assert not (image.root / "src").exists(), "the build stage's sources stay in the build stage"

    port = str(free_port())
    run_env = {k: map_paths(image.root, v) for k, v in image.env.items()}
    run_env |= {
        "DATABASE_URL": empty_database,
        "JWT_SECRET": TEST_JWT_SECRET,
        "HOME": "/nonexistent",
    }
    cmd = [{"0.0.0.0": "127.0.0.1", IMAGE_PORT: port}.get(arg, arg) for arg in image.cmd]
    executable = shutil.which(cmd[0], path=run_env["PATH"])
    assert executable and executable.startswith(str(image.root)), executable
    proc = subprocess.Popen(
        [executable, *cmd[1:]],
        cwd=host_path(image.root, image.workdir),
        env=run_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, proc)
        assert httpx.get(f"{base}/readyz").json()["revision"] == head_revision()
        check = [arg.replace(f":{IMAGE_PORT}/", f":{port}/") for arg in image.healthcheck]
        healthy = subprocess.run(
            [shutil.which(check[0], path=run_env["PATH"]) or check[0], *check[1:]],
            env=run_env,
            capture_output=True,
            timeout=30,
        )
        assert healthy.returncode == 0, healthy.stderr
        proc.send_signal(getattr(signal, image.stopsignal))
        out, _ = proc.communicate(timeout=int(image.env["SHUTDOWN_TIMEOUT"]) + 5)
        assert proc.returncode == 0, out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.pure
def test_ignore_rules_follow_docker(tmp_path: Path) -> None:
    """The matcher this test builds contexts with: last rule wins, a rule
    on a directory covers what is inside, `**` spans directories."""
    (tmp_path / ".dockerignore").write_text("# c\n*\n!app\n**/__pycache__\n!README.md\n")
    rules = read_dockerignore(tmp_path / ".dockerignore")
    assert is_ignored("tests/test_x.py", rules)
    assert not is_ignored("app/main.py", rules)
    assert is_ignored("app/http/__pycache__/x.pyc", rules)
    assert not is_ignored("README.md", rules)
    assert is_ignored(".venv/bin/python", rules)
