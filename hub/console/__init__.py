"""The admin console's plain-Python side: queries, actions, charts and checks the admin views call.

Views (hub.web.views.admin) only parse requests and render; everything here takes a SQLAlchemy
session and values, so it is tested and benchmarked without a browser.
"""
