"""Build a modeller's own cell (a spec of ``kind: model``) and wire neurodepth's synapses to it.

The cell comes from the modeller's code as published: a hoc template (``model.hoc``: file,
template name, constructor arguments) or a Python function (``model.python``: ``module:function``
or ``file.py:function``, called with no arguments). Its channels are its own business (its
mechanisms must be compiled with neurodepth's synapses, ``cells.mechanisms_build``); neurodepth
reads from it only the section lists ``model.sections`` names (soma, basal, apical, optional axon),
then places one excitatory and one inhibitory synapse on every dendritic segment as for any cell,
assigns regions and tabulates the segments. The result is a ``BuiltCell`` like the builder's, so
every variant (``no_nmda``'s synapse set, ``no_branching``'s reduction), the calibration and the
simulation work on it unchanged.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

from neurodepth.cells.morphology import Morphology
from neurodepth.core.errors import ConfigError, MorphologyError

# NEURON prints hoc errors on the C stderr, not through Python: read them back from there
_HOC_MESSAGE_LINES = 12


@contextlib.contextmanager
def captured_c_stderr():
    """Collect what C code writes to file descriptor 2 while the block runs; yields a list
    that holds the text once the block ends."""
    sys.stderr.flush()
    saved = os.dup(2)
    text: list[str] = []
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield text
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text.append(sink.read().decode(errors="replace"))


def _hoc_message(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(lines[-_HOC_MESSAGE_LINES:]) or "(NEURON printed nothing)"


def instantiate_hoc_template(spec_name: str, hoc: dict):
    """``hoc["template"](*hoc["args"])`` after loading ``hoc["file"]``; errors name the file and
    quote NEURON's message."""
    from neuron import h

    path = Path(hoc["file"])
    if not path.is_file():
        raise ConfigError(f"cell spec {spec_name!r}: key 'model.hoc.file': no file {path}")
    h.load_file("stdrun.hoc")
    # hoc resolves relative paths inside the template (its morphology) from the working
    # directory: run the template from its own folder, as its author did
    cwd = os.getcwd()
    loaded, template, cell, failure = False, None, None, None
    with captured_c_stderr() as err:
        try:
            os.chdir(path.parent)
            loaded = bool(h.load_file(str(path)))
            template = getattr(h, hoc["template"], None) if loaded else None
            if template is not None:
                cell = template(*hoc["args"])
        except RuntimeError as exc:  # a hoc error while loading, or inside the template's init
            failure = exc
        finally:
            os.chdir(cwd)
    if not loaded:
        raise ConfigError(
            f"cell spec {spec_name!r}: hoc file {path} failed to load:\n{_hoc_message(err[0])}"
        )
    if template is None:
        raise ConfigError(
            f"cell spec {spec_name!r}: hoc file {path} defines no template "
            f"{hoc['template']!r} (key 'model.hoc.template')"
        )
    if failure is not None:
        raise ConfigError(
            f"cell spec {spec_name!r}: template {hoc['template']} of {path} failed with arguments "
            f"{hoc['args']}: {failure}\n{_hoc_message(err[0])}"
        )
    return cell


def call_python_builder(spec_name: str, target: str):
    """The cell returned by ``module:function`` (a ``.py`` path or an importable module)."""
    module_name, function = target.split(":")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_file():
                raise ConfigError(f"no file {path}")
            name = f"neurodepth_cell_{path.stem}"
            module = sys.modules.get(name)
            if module is None:
                module_spec = importlib.util.spec_from_file_location(name, path)
                module = importlib.util.module_from_spec(module_spec)
                sys.modules[name] = module
                module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
        build = getattr(module, function)
    except (ConfigError, ImportError, AttributeError, SyntaxError) as exc:
        raise ConfigError(f"cell spec {spec_name!r}: key 'model.python' ({target}): {exc}") from exc
    return build()


def _sections_of(spec_name: str, cell, group: str, attribute: str) -> list:
    """The sections the cell's ``attribute`` holds: a Section, a list or a SectionList."""
    from neuron import nrn

    value = getattr(cell, attribute, None)
    if value is None:
        raise ConfigError(
            f"cell spec {spec_name!r}: key 'model.sections.{group}': the built cell has no "
            f"attribute {attribute!r}"
        )
    if isinstance(value, nrn.Section):
        return [value]
    try:
        sections = list(value)
    except TypeError:
        raise ConfigError(
            f"cell spec {spec_name!r}: key 'model.sections.{group}': attribute {attribute!r} "
            f"is neither a section nor a list of sections ({type(value).__name__})"
        ) from None
    if not all(isinstance(s, nrn.Section) for s in sections):
        raise ConfigError(
            f"cell spec {spec_name!r}: key 'model.sections.{group}': attribute {attribute!r} "
            "holds something other than sections"
        )
    # once each, in order: templates often fill a SectionList with forsec patterns that can
    # append a section twice, and a twice-listed section would get two synapse sets
    return list(dict.fromkeys(sections))


def load_model_morphology(spec) -> Morphology:
    """Build the modeller's cell and group its sections as neurodepth's morphologies are."""
    model = spec.model
    cell = (
        instantiate_hoc_template(spec.name, model["hoc"])
        if "hoc" in model
        else call_python_builder(spec.name, model["python"])
    )
    groups = {
        group: _sections_of(spec.name, cell, group, model["sections"][group])
        if group in model["sections"]
        else []
        for group in ("soma", "basal", "apical", "axon")
    }
    if not groups["soma"]:
        raise MorphologyError(
            f"cell spec {spec.name!r}: the cell's {model['sections']['soma']!r} holds no section"
        )
    if not groups["basal"] and not groups["apical"]:
        raise MorphologyError(
            f"cell spec {spec.name!r}: the cell's dendrite lists "
            f"({model['sections']['basal']!r}, {model['sections']['apical']!r}) hold no "
            "section: there is nowhere to place synapses"
        )
    return Morphology(groups=groups, owner=cell)
