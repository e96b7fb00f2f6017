"""Command-line groups, attached to the root `hub` CLI by hub.cli.main, and the one way every
command (the core's and plugins') reaches the runtime: `hub.cli.commands.runtime()` (defined in
hub.cli.context, which the command modules import, so no module imports this package back).
"""

from hub.cli.commands.audit import audit_group
from hub.cli.commands.keys import keys_group
from hub.cli.context import OPERATOR, LazyRuntime, ProgressBar, runtime, settings

__all__ = ["OPERATOR", "LazyRuntime", "ProgressBar", "audit_group", "keys_group", "runtime", "settings"]
