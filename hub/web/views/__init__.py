"""The hub's blueprints: auth, account, health; errors turns HubErrors into pages and JSON."""
