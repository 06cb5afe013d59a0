"""Hosted kernels (Colab, Kaggle): the set-up block at the top of every notebook's first code cell.

A hosted kernel has torch but not the course. The block installs the course there and goes on;
wherever ``course_utils`` is already importable (a local ``make course``, Binder, the class's
JupyterHub) it does nothing and prints nothing, so the outputs stored in the notebooks stay
valid without running them again::

    # --- hosted kernels (Colab, Kaggle): install the course when it is missing ...
    import importlib.util, os, subprocess, sys
    if importlib.util.find_spec("course_utils") is None:
        ...pip install the dependencies (never torch), then the course with --no-deps...
    # --- end of the hosted set-up ---

The course comes from the git repository at a fixed ref, by default the release tag
``v<version>``: stamp, commit, tag that commit ``v<version>``, and the notebooks of the tag install
the package of the same commit. The repository is ``docs/site.toml``'s; while none is set there
(or ``--repository``), the block names none: it installs only from ``COURSE_INSTALL_SOURCE`` and,
without it, stays silent (the notebook's next import then says the course is missing) rather
than send pip to an address that does not exist. ``COURSE_INSTALL_SOURCE`` (any ``pip install`` argument: a wheel,
a folder, a ``git+`` URL) replaces that source, which is how the tests install a locally built
wheel. The kernel's torch is never touched: the course is installed with ``--no-deps`` and its
other dependencies are listed explicitly (torch and the Jupyter front-end packages the kernel
already has are left out).

``python -m course_utils hosted --stamp`` writes or updates the block in ``notebooks/`` and
``solutions/`` (only the first code cell's source changes: outputs, ids and metadata are kept) and
regenerates the matching learner workbooks of ``exercises/`` as ``release`` does (one that someone
has worked in is left as it is); ``--check`` fails when a notebook
lacks the current block.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

BEGIN = "# --- hosted kernels (Colab, Kaggle): install the course when it is missing (silent elsewhere) ---"
END = "# --- end of the hosted set-up (written by `python -m course_utils hosted --stamp`) ---"
SOURCE_VARIABLE = "COURSE_INSTALL_SOURCE"
# a hosted kernel brings these itself; installing them again could break its torch or its front end
KERNEL_PROVIDES = ("torch", "jupyterlab", "ipykernel", "jupyterlab-rise")
FOLDERS = ("notebooks", "solutions")


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~;\s]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def dependencies(root: Path | str = ".") -> list[str]:
    """The course's runtime dependencies (pyproject.toml) a hosted kernel lacks: all but torch and Jupyter."""
    pyproject = Path(root) / "pyproject.toml"
    try:
        import tomllib

        requirements = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    except (ImportError, OSError, KeyError):  # Python 3.10, or no checkout: the installed package's metadata
        from importlib.metadata import requires

        requirements = [r for r in requires("course-utils") or [] if "extra ==" not in r]
    return [r.replace(" ", "") for r in requirements if _name(r) not in KERNEL_PROVIDES]


def default_source(root: Path | str = ".", ref: str | None = None, repository: str | None = None) -> str:
    """``git+REPOSITORY@REF``: the repository of docs/site.toml, the release tag ``v<version>``;
    "" while no repository is set (an empty one, or the placeholder ``OWNER/REPO``)."""
    from course_utils import __version__

    if repository is None:
        site_toml = Path(root) / "docs" / "site.toml"
        match = re.search(r'^repository\s*=\s*"([^"]*)"', site_toml.read_text(), re.MULTILINE) \
            if site_toml.is_file() else None
        repository = match.group(1) if match else ""
    if not repository.strip() or "OWNER/REPO" in repository:
        return ""
    return f"git+{repository.rstrip('/')}.git@{ref or 'v' + __version__}"


def block(source: str, requirements: list[str]) -> str:
    """The set-up block's text (no trailing newline); with no ``source``, one that installs only
    from ``$COURSE_INSTALL_SOURCE`` and does nothing without it."""
    deps = ", ".join(json.dumps(r) for r in requirements)
    if source:
        when, course = "", f'os.environ.get("{SOURCE_VARIABLE}", "{source}")'
    else:
        when, course = f' and os.environ.get("{SOURCE_VARIABLE}")', f'os.environ["{SOURCE_VARIABLE}"]'
    return "\n".join([
        BEGIN,
        "import importlib.util, os, subprocess, sys",
        f'if importlib.util.find_spec("course_utils") is None{when}:',
        '    print("Installing the course into this kernel (a minute; its torch stays as it is) ...")',
        f"    for _args in ([{deps}],",
        f'                  ["--no-deps", {course}]):',
        '        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *_args], check=True)',
        "    importlib.invalidate_caches()",
        END,
    ])


def current_block(root: Path | str = ".", ref: str | None = None, repository: str | None = None) -> str:
    return block(default_source(root, ref, repository), dependencies(root))


def _first_code_cell(nb) -> int:
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            return i
    raise ValueError("the notebook has no code cell")


def _without_block(source: str) -> str:
    if not source.startswith(BEGIN):
        return source
    end = source.find(END)
    if end < 0:
        raise ValueError("the hosted set-up block has no end line")
    return source[end + len(END):].lstrip("\n")


def stamped_source(source: str, text: str) -> str:
    """A first cell's source with the block ``text`` at its top (replacing an older block)."""
    return text + "\n\n" + _without_block(source)


def has_block(path: Path, text: str) -> bool:
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    source = nb.cells[_first_code_cell(nb)].source
    return source.startswith(text + "\n")


def stamp(path: Path, text: str) -> bool:
    """Write the block into one notebook's first code cell; True when the file changed."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    cell = nb.cells[_first_code_cell(nb)]
    new = stamped_source(cell.source, text)
    if new == cell.source:
        return False
    cell.source = new
    nbformat.write(nb, str(path))
    return True


def _release_one(root: Path, solution: Path) -> str:
    """Regenerate the learner workbook of one solved workbook, by `release`'s own rule (a workbook
    someone has worked in is left as it is); says what became of it."""
    from course_utils.release import release_one

    report = release_one(root, solution)
    target = f"exercises/{solution.name}"
    if report.kept:
        return (f"left as it is: {target}: someone has worked in it ({report.worked_in[target]}); "
                "`python -m course_utils release --force` replaces it after a backup")
    return f"and {target}" if report.written else f"{target} up to date"


def _targets(root: Path, paths: list[str]) -> list[Path]:
    if paths:
        return [Path(p) if Path(p).is_absolute() else root / p for p in paths]
    return [p for folder in FOLDERS for p in sorted((root / folder).glob("*.ipynb"))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils hosted",
                                     description="The set-up block that lets every notebook run in a bare hosted "
                                                 "kernel (Colab, Kaggle): write it, check it, or print it.")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--stamp", action="store_true",
                        help="write/update the block in notebooks/ and solutions/ (or the NOTEBOOKS named), and "
                             "regenerate the learner workbook of each solved workbook stamped")
    action.add_argument("--check", action="store_true", help="fail when a notebook lacks the current block")
    action.add_argument("--print", action="store_true", help="print the block")
    parser.add_argument("notebooks", nargs="*", help="default: every notebook of notebooks/ and solutions/ "
                                                     "(--check: and exercises/)")
    parser.add_argument("--ref", help="git ref the course is installed from (default: the release tag v<version>)")
    parser.add_argument("--repository", help="git repository (default: docs/site.toml's `repository`)")
    parser.add_argument("--root", default=".", help="repository root (default: .)")
    args = parser.parse_args(argv)
    root = Path(args.root)
    text = current_block(root, args.ref, args.repository)
    if args.print:
        print(text)
        return 0
    targets = _targets(root, args.notebooks)
    if args.check:
        if not args.notebooks:
            targets += sorted((root / "exercises").glob("*.ipynb"))
        missing = [p for p in targets if not has_block(p, text)]
        for path in missing:
            print(f"no current hosted set-up block: {path}", file=sys.stderr)
        if missing:
            print("Run `python -m course_utils hosted --stamp` (then commit notebooks/, solutions/, exercises/).",
                  file=sys.stderr)
            return 1
        print(f"{len(targets)} notebooks carry the hosted set-up block.")
        return 0
    for path in targets:
        changed = stamp(path, text)
        if path.parent.name == "solutions":
            print(f"{'stamped' if changed else 'up to date'}: {path} ({_release_one(root, path)})")
        else:
            print(f"{'stamped' if changed else 'up to date'}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
