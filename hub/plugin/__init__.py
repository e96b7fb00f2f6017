"""The plugin contract and its tools: hookspecs, the manager, the scaffold and the testing kit."""
