"""The README's commands, and a copy of Firmguard installed as an operator would.

`install_copy` makes a fresh virtual environment and `pip install`s the
project into it, not editable, from a copy of the repository's files (what a
clone holds: tracked files and new ones not ignored). The dependencies are the
test environment's own, reached through a `.pth` file (installing them again
would take a minute of downloads per run and prove nothing about Firmguard);
their console scripts (`flask`, `celery`, `gunicorn`) are made in the new
environment from their entry points, as pip makes them, so each runs the
new environment's Python and finds the installed copy, never the repository.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from importlib.metadata import distribution
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SCRIPTS_OF = ("flask", "celery", "gunicorn")


def readme_shell_lines() -> list[str]:
    """Every command of the README's `sh` code blocks: continuation lines
    joined, comments (which the shell ignores) dropped."""
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", README.read_text(), flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"(^|\s+)#.*$", "", line).strip()
            if line:
                lines.append(re.sub(r"\s+", " ", line))
    return lines


def readme_commands_table() -> list[str]:
    """The commands of the README's "Commands" table (after `flask --app wsgi`)."""
    section = README.read_text().split("## Commands", 1)[1].split("\n## ", 1)[0]
    return [
        cell.replace("\\|", "|")
        for cell in re.findall(r"^\| `((?:[^`]|\\\|)+)` \|", section, flags=re.M)
    ]


@dataclass
class InstalledCopy:
    venv: Path

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def env(self, instance: Path, **extra: str) -> dict[str, str]:
        """A fresh shell's environment: the copy's bin/ first on PATH, nothing of ours."""
        return {
            "PATH": f"{self.bin}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(instance.parent),
            "LANG": "C.UTF-8",
            "FIRMGUARD_INSTANCE": str(instance),
            **extra,
        }

    def run(self, command: str, cwd: Path, env: dict, timeout: float = 120):
        """Run `command` as a shell line, as an operator types it."""
        return subprocess.run(
            ["bash", "-c", command],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self, command: str, cwd: Path, env: dict, log: Path) -> subprocess.Popen:
        """Start a long-running `command` (worker, beat, gunicorn) in its own process group."""
        with log.open("ab") as output:
            return subprocess.Popen(
                ["bash", "-c", f"exec {command}"],
                cwd=cwd,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )


def stop(process: subprocess.Popen) -> None:
    """SIGTERM the process group `start` made (SIGKILL if it lingers)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def copy_of_the_repository(target: Path) -> Path:
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, files.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def console_script(python: Path, module: str, attr: str) -> str:
    return (
        f"#!{python}\nimport sys\nfrom {module} import {attr.split('.')[0]}\n"
        f"if __name__ == '__main__':\n    sys.exit({attr}())\n"
    )


def install_copy(workdir: Path) -> InstalledCopy:
    """A fresh venv with a non-editable install of the project (see the module)."""
    venv = workdir / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    site = Path(
        subprocess.run(
            [venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (site / "test_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    source = copy_of_the_repository(workdir / "clone")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install"]
        + ["--quiet", "--no-deps", "--disable-pip-version-check", str(source)],
        check=True,
        capture_output=True,
    )
    for name in SCRIPTS_OF:
        for entry in distribution(name).entry_points:
            if entry.group == "console_scripts":
                script = venv / "bin" / entry.name
                script.write_text(console_script(venv / "bin" / "python", entry.module, entry.attr))
                script.chmod(0o755)
    shutil.rmtree(source)  # nothing may come from the copy's files from here on
    return InstalledCopy(venv)
