"""The library files a rule's script depends on, as rule inputs.

Snakemake watches a rule's script but not the library code the script imports. Listing the
package modules a module imports (transitively, found with ``ast``, so nothing is imported) as
inputs makes an edited library function rerun exactly the jobs that use it. Imports inside
functions count too: a shell that imports a module lazily still depends on it; so do references of
the form ``"factgap.module:function"`` (the loader tables of ``factgap.data.loaders``).
"""

from __future__ import annotations

import ast
import re
from functools import lru_cache
from pathlib import Path

PACKAGE = "factgap"
_REFERENCE = re.compile(rf"^{PACKAGE}(\.\w+)+:\w+$")  # "factgap.module:function"


@lru_cache(maxsize=None)
def module_path(package_dir: Path, module: str) -> Path | None:
    """File of ``module`` (``factgap.x.y``) under ``package_dir``; None when it is not a module of ours."""
    base = package_dir.joinpath(*module.split(".")[1:])
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


@lru_cache(maxsize=None)  # every rule walks the same modules: parse each file once per run
def direct_imports(package_dir: Path, module: str) -> frozenset[str]:
    path = module_path(package_dir, module)
    if path is None:
        raise ModuleNotFoundError(f"{module} is not a module under {package_dir}")
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PACKAGE):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)  # `from pkg import module`
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith(PACKAGE))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _REFERENCE.match(node.value):
            found.add(node.value.partition(":")[0])
    return frozenset(m for m in found if module_path(package_dir, m) is not None)


def library_sources(package_dir: Path, *modules: str) -> list[str]:
    """Files of ``modules`` and of every package module they import, transitively, sorted."""
    seen, todo = set(), list(modules)
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(direct_imports(package_dir, module) - seen)
    return sorted(str(module_path(package_dir, m)) for m in seen)
