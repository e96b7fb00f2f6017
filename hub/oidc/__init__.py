"""v1 plugin API name, kept for plugins written against it: the package now lives at `hub.upstream.protocol`.
Every submodule is the moved module itself (one object under two names), so patches apply to both."""

import importlib
import pkgutil
import sys

import hub.upstream.protocol as _moved

for _info in pkgutil.iter_modules(_moved.__path__):
    sys.modules[f"{__name__}.{_info.name}"] = importlib.import_module(f"hub.upstream.protocol.{_info.name}")
sys.modules[__name__] = _moved
