"""The WSGI entry point for servers run directly, e.g. `gunicorn 'hub.wsgi:app'`.

Configuration comes from the environment and hub.toml as for `hub serve`; the schema must be
current (`hub db upgrade` first).
"""

from hub.web.app import create_app, freeze_startup_heap

app = create_app()
freeze_startup_heap()
