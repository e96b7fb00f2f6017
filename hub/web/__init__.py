"""Flask only: the app factory, request context, security, rate limits and the views."""
