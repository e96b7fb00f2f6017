"""v1 plugin API name, kept for plugins written against it: the module now lives at `hub.core.errors`."""

import sys

import hub.core.errors as _moved

sys.modules[__name__] = _moved
