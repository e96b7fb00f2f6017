"""v1 plugin API name, kept for plugins written against it: the module now lives at `hub.upstream.http`."""

import sys

import hub.upstream.http as _moved

sys.modules[__name__] = _moved
