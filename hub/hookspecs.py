"""v1 plugin API name, kept for plugins written against it: the module now lives at `hub.plugin.hookspecs`."""

import sys

import hub.plugin.hookspecs as _moved

sys.modules[__name__] = _moved
