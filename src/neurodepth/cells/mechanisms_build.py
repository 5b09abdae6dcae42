"""Compile and load a cell's NMODL mechanisms: neurodepth's own (``cells/mechanisms/*.mod``), or a
modeller's folder with neurodepth's synapses (``mechanism_sources``).

``compile_mechanisms(out_dir, sources)`` copies the .mod files into ``out_dir``, runs NEURON's
``nrnivmodl`` there and records what was compiled in ``out_dir/mechanisms.json``.
``load_mechanisms(out_dir)`` loads the compiled library into the running NEURON; NEURON can hold
only one such library per process, so a second call with the same folder is a no-op and a
different folder is an error.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from neurodepth.core.atomic import write_text_atomic
from neurodepth.core.errors import MechanismError

MOD_DIR = Path(__file__).resolve().parent / "mechanisms"

_loaded_dir: Path | None = None


def mod_files() -> list[Path]:
    """The package's .mod sources, sorted by name."""
    return sorted(MOD_DIR.glob("*.mod"))


_NEURON_BLOCK = re.compile(r"\bNEURON\s*\{(.*?)\}", re.S)
_DECLARATION = re.compile(r"\b(SUFFIX|POINT_PROCESS|ARTIFICIAL_CELL)\s+(\w+)")


def declared_mechanisms(path: Path) -> list[tuple[str, str]]:
    """``(kind, name)`` of each mechanism a .mod file declares in its NEURON block (comments
    removed), e.g. ``("SUFFIX", "Ih")`` or ``("POINT_PROCESS", "nd_AMPA")``."""
    text = Path(path).read_text(errors="replace")
    text = re.sub(r"COMMENT.*?ENDCOMMENT", "", text, flags=re.S)
    text = re.sub(r":[^\n]*", "", text)
    block = _NEURON_BLOCK.search(text)
    return _DECLARATION.findall(block.group(1)) if block else []


def synapse_mod_files() -> list[Path]:
    """neurodepth's synapse mechanisms (its point processes), which every cell needs."""
    return [p for p in mod_files() if any(k == "POINT_PROCESS" for k, _ in declared_mechanisms(p))]


def mechanism_sources(spec) -> list[Path]:
    """The .mod files of ``spec``'s library: neurodepth's own for the cells it builds; for a
    ``kind: model`` spec, the modeller's folder (``model.mechanisms``) plus neurodepth's
    synapses. A mechanism name declared twice (by two files) stops with both files named."""
    if spec.model is None:
        return mod_files()
    sources = []
    folder = spec.model.get("mechanisms")
    if folder is not None:
        folder = Path(folder)
        if not folder.is_dir():
            raise MechanismError(
                f"cell spec {spec.name!r}: key 'model.mechanisms': no folder {folder}"
            )
        sources = sorted(folder.glob("*.mod"))
        if not sources:
            raise MechanismError(
                f"cell spec {spec.name!r}: key 'model.mechanisms': no .mod file in {folder}"
            )
    sources += synapse_mod_files()
    owner: dict[str, Path] = {}
    for path in sources:
        for kind, name in declared_mechanisms(path) + [("file", path.name)]:
            if name in owner and owner[name] != path:
                raise MechanismError(
                    f"cell spec {spec.name!r}: {kind} {name} is declared by both {owner[name]} "
                    f"and {path}; rename one (NEURON holds one mechanism per name)"
                )
            owner[name] = path
    return sources


def _nrnivmodl() -> str:
    # The venv's nrnivmodl sits beside the interpreter; fall back to PATH.
    candidate = Path(sys.executable).parent / "nrnivmodl"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nrnivmodl")
    if found is None:
        raise MechanismError(f"nrnivmodl not found beside {sys.executable} nor on PATH")
    return found


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _library_path(out_dir: Path) -> Path | None:
    for arch in ("x86_64", "aarch64", "arm64", "i686"):
        for name in (".libs/libnrnmech.so", "libnrnmech.so", ".libs/libnrnmech.dylib"):
            p = out_dir / arch / name
            if p.exists():
                return p
    return None


def _failing_mod(stderr: str, stdout: str, names: list[str]) -> str:
    """Best guess at which .mod file made nrnivmodl fail (the last one it mentions)."""
    text = stdout + "\n" + stderr
    best, best_pos = None, -1
    for name in names:
        stem = name[: -len(".mod")]
        for token in (name, stem + ".c", stem + ".cpp", stem + ".o"):
            pos = text.rfind(token)
            if pos > best_pos:
                best, best_pos = name, pos
    return best or "unknown .mod file"


def compile_mechanisms(out_dir, mod_sources: list[Path] | None = None) -> Path:
    """Compile the mechanisms into ``out_dir`` and return ``out_dir``.

    ``mod_sources`` defaults to the package's .mod files (a test may pass others). Raises
    ``MechanismError`` naming the failing .mod file and the tail of nrnivmodl's output.
    """
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    sources = [Path(p) for p in (mod_sources if mod_sources is not None else mod_files())]
    if not sources:
        raise MechanismError(f"no .mod files to compile (looked in {MOD_DIR})")
    mod_dir = out_dir / "mod"
    if mod_dir.exists():
        shutil.rmtree(mod_dir)
    mod_dir.mkdir()
    for src in sources:
        if not src.exists():
            raise MechanismError(f"mechanism source {src} does not exist")
        shutil.copy2(src, mod_dir / src.name)
    names = [s.name for s in sources]
    env = dict(os.environ)
    # nrnivmodl calls nocmodl/make via the venv's bin; make sure they are found.
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    proc = subprocess.run(
        [_nrnivmodl(), "mod"], cwd=out_dir, capture_output=True, text=True, env=env
    )
    lib = _library_path(out_dir)
    if proc.returncode != 0 or lib is None:
        culprit = _failing_mod(proc.stderr, proc.stdout, names)
        tail = "\n".join((proc.stdout + "\n" + proc.stderr).strip().splitlines()[-25:])
        raise MechanismError(
            f"nrnivmodl failed (exit {proc.returncode}) compiling {culprit} in {mod_dir}:\n{tail}"
        )
    manifest = {
        "mechanisms": [s.stem for s in sources],
        "sha256": {s.name: _sha256(s) for s in sources},
        "library": str(lib.relative_to(out_dir)),
    }
    write_text_atomic(out_dir / "mechanisms.json", json.dumps(manifest, indent=2) + "\n")
    return out_dir


def is_up_to_date(out_dir, sources: list[Path] | None = None) -> bool:
    """True when ``out_dir`` holds a library compiled from the current ``sources`` (default the
    package's .mod files)."""
    out_dir = Path(out_dir)
    try:
        manifest = json.loads((out_dir / "mechanisms.json").read_text())
    except (OSError, ValueError):
        return False
    current = {p.name: _sha256(p) for p in (mod_files() if sources is None else sources)}
    return manifest.get("sha256") == current and _library_path(out_dir) is not None


def load_mechanisms(out_dir) -> Path:
    """Load the compiled mechanisms from ``out_dir`` into NEURON (idempotent per process)."""
    global _loaded_dir
    out_dir = Path(out_dir).resolve()
    if _loaded_dir is not None:
        if _loaded_dir == out_dir:
            return out_dir
        raise MechanismError(
            f"NEURON already has mechanisms loaded from {_loaded_dir}; cannot also load {out_dir} "
            "in the same process"
        )
    lib = _library_path(out_dir)
    if lib is None:
        raise MechanismError(f"no compiled mechanism library in {out_dir} (run compile_mechanisms)")
    from neuron import h

    if hasattr(h, "nd_AMPANMDA"):
        # Already present (e.g. loaded by NEURON itself from the working directory).
        _loaded_dir = out_dir
        return out_dir
    ok = h.nrn_load_dll(str(lib))
    if not ok:
        raise MechanismError(f"NEURON could not load {lib}")
    _loaded_dir = out_dir
    return out_dir


def mechanisms_loaded() -> bool:
    """True once our mechanisms are available in this process."""
    from neuron import h

    return hasattr(h, "nd_AMPANMDA")
