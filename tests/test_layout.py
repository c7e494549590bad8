"""The dependency direction of DESIGN.md section 2, checked on the source."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

ROOTS = ["sdk", "workflows", "activities", "worker", "cluster"]

# Which of our parts each part may import (besides itself).
# workflows hold the contracts (pydantic models, error codes) and import none of our other parts;
# the cluster is a stand-alone Kubernetes and imports none either.
ALLOWED: dict[str, set[str]] = {
    "sdk": {"workflows"},
    "workflows": set(),
    "activities": {"workflows"},
    "worker": {"workflows", "activities", "sdk", "cluster"},
    "cluster": set(),
}
PART_OF_PACKAGE = {
    "kaptain.workflows": "workflows",
    "kaptain.activities": "activities",
    "kaptain.worker": "worker",
    "kaptain.cluster": "cluster",
}
FORBIDDEN_IN_SDK = (
    "kubernetes_asyncio",
    "aioboto3",
    "kaptain.activities",
    "kaptain.cluster",
    "kaptain.worker",
)


def _part_of(module: str) -> str | None:
    for prefix, part in PART_OF_PACKAGE.items():
        if module == prefix or module.startswith(prefix + "."):
            return part
    if module.startswith("kaptain."):
        return "sdk"
    return None


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def _sources(part: str) -> list[Path]:
    return sorted((ROOT / part / "kaptain").rglob("*.py"))


def test_no_kaptain_init_anywhere() -> None:
    for part in ROOTS:
        assert not (ROOT / part / "kaptain" / "__init__.py").exists(), (
            f"{part}/kaptain must be a namespace package"
        )


def test_parts_import_only_allowed_parts() -> None:
    bad: list[str] = []
    for part in ROOTS:
        for path in _sources(part):
            for module in _imports(path):
                target = _part_of(module)
                if target is not None and target != part and target not in ALLOWED[part]:
                    bad.append(f"{path.relative_to(ROOT)} imports {module} ({part} -> {target})")
    assert not bad, "\n".join(bad)


def test_sdk_imports_no_worker_dependencies() -> None:
    bad = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in _sources("sdk")
        for module in _imports(path)
        if module.startswith(FORBIDDEN_IN_SDK)
    ]
    assert not bad, "\n".join(bad)


def test_part_graph_has_no_cycles() -> None:
    edges: dict[str, set[str]] = {part: set() for part in ROOTS}
    for part in ROOTS:
        for path in _sources(part):
            for module in _imports(path):
                target = _part_of(module)
                if target is not None and target != part:
                    edges[part].add(target)
    seen: set[str] = set()
    stack: list[str] = []

    def visit(node: str) -> None:
        assert node not in stack, f"import cycle: {' -> '.join([*stack, node])}"
        if node in seen:
            return
        stack.append(node)
        for nxt in edges[node]:
            visit(nxt)
        stack.pop()
        seen.add(node)

    for part in ROOTS:
        visit(part)


def test_sdk_imports_with_core_dependencies_only(tmp_path: Path) -> None:
    """`import kaptain.model.models` works where kubernetes_asyncio, aioboto3 and the cluster are absent."""
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in {'kubernetes_asyncio', 'aioboto3', 'aiobotocore', 'boto3', 'botocore'}"
        " or name.startswith(('kaptain.cluster', 'kaptain.activities', 'kaptain.worker')):\n"
        "            raise ImportError('blocked for this test: ' + name)\n"
        "        return None\n"
        "sys.meta_path.insert(0, Block())\n"
        "import kaptain.model.models, kaptain.config, kaptain.envs, kaptain.exceptions\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
