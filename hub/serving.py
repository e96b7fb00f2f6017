"""v1 plugin API name, kept for plugins written against it: the module now lives at `hub.web.serving`."""

import sys

import hub.web.serving as _moved

sys.modules[__name__] = _moved
