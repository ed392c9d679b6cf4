"""The layering is a checked contract: front ends above mail above scrips above core, core importing
none of them, and no import cycle between the modules or sub-packages of any package.

import-linter reads every import statement, those inside functions and under TYPE_CHECKING too; the
contracts are in pyproject.toml (`[tool.importlinter]`). The last two tests break a copy of the
package on purpose, to prove the check sees what it must refuse.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` on the project at `project` (its pyproject.toml's contracts), no cache."""
    script = Path(sys.executable).with_name("lint-imports")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "importlinter.cli"]
    return subprocess.run(
        [*command, "--no-cache", "--no-logo", "pyproject.toml"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )


def broken_copy(tmp_path: Path, files: dict[str, str]) -> Path:
    """A copy of the package and its contracts, with `files` (paths under tessera/) added."""
    shutil.copytree(ROOT / "tessera", tmp_path / "tessera", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for name, text in files.items():
        (tmp_path / "tessera" / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_the_code_keeps_its_layers_and_has_no_import_cycles() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_upward_import_inside_a_function_breaks_the_layers(tmp_path: Path) -> None:
    project = broken_copy(
        tmp_path,
        {"core/_probe_upward.py": "def later() -> None:\n    from tessera.scrips import engine\n"},
    )
    result = lint_imports(project)
    assert result.returncode == 1
    assert "tessera.core is not allowed to import tessera.scrips" in result.stdout
    assert "tessera.core._probe_upward -> tessera.scrips.engine" in result.stdout


def test_a_cycle_between_two_modules_of_a_package_breaks_the_contract(tmp_path: Path) -> None:
    project = broken_copy(
        tmp_path,
        {
            "mail/_probe_a.py": "from tessera.mail import _probe_b  # noqa: F401\n",
            "mail/_probe_b.py": "def later() -> None:\n    from tessera.mail import _probe_a  # noqa: F401\n",
        },
    )
    result = lint_imports(project)
    assert result.returncode == 1
    assert "No cycles are allowed in tessera.mail" in result.stdout
    assert "_probe_" in result.stdout
