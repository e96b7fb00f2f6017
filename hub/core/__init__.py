"""The core: models, database, settings, identity values, accounts, people, sessions, audit. Imports neither side."""
