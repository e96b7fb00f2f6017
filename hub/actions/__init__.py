"""Every audited change, once: the console, the person's pages, the API and the CLI all call these."""
