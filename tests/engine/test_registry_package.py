"""The Comfy registry's own tool, comfy-cli (requirements-dev.txt), validates the pack and packs it as `comfy node
publish` would: the archive holds the nodes, the engine, the help pages, translations, templates and blueprints, and
no tests, benchmarks or tools. Run on a copy of the working tree's files as git would commit them."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("comfy_cli", reason="comfy-cli (requirements-dev.txt) is not installed")

PACK_DIR = Path(__file__).resolve().parents[2]
EXPECTED = {"__init__.py", "pyproject.toml", "requirements.txt", "README.md", "CHANGELOG.md", "nodes", "inbetween",
            "web", "locales", "workflows", "subgraphs", "docs"}
LEFT_OUT = {"tests", "benchmarks", "tools", ".ci", "requirements-dev.txt"}


def _comfy(folder: Path, *args: str) -> str:
    comfy = Path(sys.executable).parent / "comfy"
    result = subprocess.run([str(comfy if comfy.exists() else "comfy"), "--skip-prompt", "--no-enable-telemetry", *args],
                            cwd=folder, capture_output=True, text=True, timeout=300,
                            env={"HOME": str(folder.parent), "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"})
    output = result.stdout + result.stderr  # comfy-cli reports on both
    assert result.returncode == 0, f"comfy {' '.join(args)}: {output}"
    return output


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> Path:
    """The files git would commit now (tracked and new, ignored ones left out), in a repository of their own."""
    folder = tmp_path_factory.mktemp("registry") / "ComfyUI-Inbetween"
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=PACK_DIR,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, listed):
        if (PACK_DIR / name).is_file():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PACK_DIR / name, folder / name)
    for command in (["init", "-q"], ["add", "-A"]):
        subprocess.run(["git", *command], cwd=folder, check=True, capture_output=True)
    return folder


def test_comfy_node_validate_passes(checkout):
    output = _comfy(checkout, "node", "validate")
    # its security checks (ruff's rules on exec, eval, several statements a line) only warn, for now
    assert "All validation checks passed" in output and "warning" not in output.lower(), output


def test_comfy_node_pack_holds_what_the_nodes_need_and_no_development_files(checkout):
    _comfy(checkout, "node", "pack")
    with zipfile.ZipFile(checkout / "node.zip") as archive:
        names = archive.namelist()
    top = {name.split("/")[0] for name in names}
    assert EXPECTED <= top, f"missing from the archive: {sorted(EXPECTED - top)}"
    assert not top & LEFT_OUT, f"development files in the archive: {sorted(top & LEFT_OUT)}"
    for folder in ("workflows", "subgraphs"):
        shipped = sorted(path.relative_to(PACK_DIR).as_posix() for path in (PACK_DIR / folder).glob("*.json"))
        assert shipped and set(shipped) <= set(names), folder
    assert "web/docs/InbetweenAIDAttentionPatch/en.md" in names and "locales/zh/main.json" in names
