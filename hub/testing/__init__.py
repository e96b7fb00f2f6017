"""v1 plugin API name, kept for plugins written against it: the package now lives at `hub.plugin.testing`.
Every submodule is the moved module itself (one object under two names), so patches apply to both.

The submodules are aliased when first imported, not all at once: a test double that needs only
`hub.testing.grants` (the fake GitHub, the Entra emulator behind `hub demo`) must not pull in
pytest through `hub.testing.conformance`."""

import importlib
import importlib.abc
import importlib.util
import sys
from types import ModuleType

import hub.plugin.testing as _moved

_PREFIX = f"{__name__}."


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers `import hub.testing.X` with the module `hub.plugin.testing.X` itself."""

    def find_spec(self, fullname: str, path: object, target: object = None) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(_PREFIX):
            return None
        if importlib.util.find_spec(f"{_moved.__name__}.{fullname.removeprefix(_PREFIX)}") is None:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(f"{_moved.__name__}.{spec.name.removeprefix(_PREFIX)}")

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: `create_module` returned the moved module, already executed."""


if not any(isinstance(finder, _AliasFinder) for finder in sys.meta_path):
    sys.meta_path.insert(0, _AliasFinder())
sys.modules[__name__] = _moved
