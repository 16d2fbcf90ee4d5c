"""The README's set-up and notebook claims hold: snippets run after the demo, outputs of its
commands are ignored by git, a completed run keeps only its final checkpoint."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from reawaken.train.checkpoint import checkpoint_dir

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def python_blocks(section: str) -> list[str]:
    """The ```python blocks of one README section (## heading)."""
    body = README.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", body, flags=re.S)


@pytest.mark.parametrize(
    ("section", "index"), [("The run store (schema v2)", 0), ("Analysis in a notebook", 0)]
)
def test_readme_snippet_runs_after_the_demo(
    section: str, index: int, finished_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    shutil.copytree(finished_run, tmp_path / "runs" / "default-20261202-010000.zarr")
    exec(python_blocks(section)[index], {})


@pytest.mark.parametrize(
    "path", ["figures/recovery.png", "figs/a.png", "runs/x.zarr/zarr.json", "runs/x.lock"]
)
def test_outputs_of_the_readme_commands_are_ignored_by_git(path: str) -> None:
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    result = subprocess.run(
        ["git", "check-ignore", "--no-index", "-q", path], cwd=REPO, check=False
    )
    assert result.returncode == 0, f"{path} is not ignored by .gitignore"


def test_a_completed_run_keeps_only_its_final_checkpoint(finished_run: Path) -> None:
    folders = sorted(p.name for p in checkpoint_dir(finished_run).iterdir())
    assert folders == ["step-000000012"]  # T=3, M=2, E=2: the trained weights, nothing else


def test_setup_text_says_what_is_true() -> None:
    text = " ".join(README.split())
    assert "--index-url https://download.pytorch.org/whl/cpu" in text  # the CPU-only install
    assert "never swaps in a multi-GB CUDA build" not in text  # the pin does not do that
    assert "about a minute" not in text
    before_load = text.split("before any model is loaded", 1)[0].rsplit("Every configuration", 1)
    assert "layer out of range" not in before_load[-1]
