# Library code as rule input. Snakemake watches a rule's script but not the library code the
# script imports. Listing the package modules a script imports (transitively, found with ast) as
# inputs makes an edited library function rerun exactly the jobs that use it.
import ast


def _module_path(mod):
    base = PACKAGE_DIR.joinpath(*mod.split(".")[1:])
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def _imports_of(mod):
    path = _module_path(mod)
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("factgap"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("factgap"))
    return {m for m in found if _module_path(m) is not None}, path


def library_sources(*mods):
    """Files of ``mods`` and of every factgap module they import, transitively."""
    seen, todo, files = set(), list(mods), set()
    while todo:
        mod = todo.pop()
        if mod in seen:
            continue
        seen.add(mod)
        imports, path = _imports_of(mod)
        files.add(str(path))
        todo.extend(imports - seen)
    return sorted(files)
