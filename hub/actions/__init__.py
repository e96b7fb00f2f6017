"""Every audited change, once: the console, the CLI and the person's pages call the same function."""
