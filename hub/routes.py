"""v1 plugin API name, kept for plugins written against it: the module now lives at `hub.web.plugin_routes`."""

import sys

import hub.web.plugin_routes as _moved

sys.modules[__name__] = _moved
