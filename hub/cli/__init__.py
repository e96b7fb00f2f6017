"""The `hub` command: groups and commands, each a thin caller of the actions."""
from hub.cli.main import main

__all__ = ["main"]
