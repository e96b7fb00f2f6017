"""v1 plugin API name, kept for plugins written against it: the module now lives at `hub.web.app`."""

import sys

import hub.web.app as _moved

sys.modules[__name__] = _moved
