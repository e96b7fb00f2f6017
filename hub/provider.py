"""v1 plugin API name, kept for plugins written against it: the module now lives at `hub.upstream.provider`."""

import sys

import hub.upstream.provider as _moved

sys.modules[__name__] = _moved
