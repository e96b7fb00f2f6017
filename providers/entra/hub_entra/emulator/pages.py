"""The emulator's HTML pages: account picker, consent, errors, form_post and signed-out.

Buttons have plain accessible names so browser tests can click them by role and name: one
button per account labelled with the person's display name (e.g. "Alice Adams"), "Cancel",
then "Accept" / "Cancel" on the consent page.
"""

_STYLE = """
<style>
  body { font-family: system-ui, sans-serif; background: #f2f2f2; margin: 0; }
  main { max-width: 26rem; margin: 4rem auto; background: #fff; padding: 2rem;
         box-shadow: 0 2px 6px rgba(0,0,0,.2); }
  h1 { font-size: 1.4rem; font-weight: 600; }
  .banner { font-size: .8rem; color: #a4262c; margin-bottom: 1rem; }
  .account { display: flex; flex-direction: column; margin: .5rem 0; }
  button { font-size: 1rem; padding: .6rem 1rem; cursor: pointer; margin: .25rem 0; }
  .primary { background: #0067b8; color: #fff; border: 0; }
  .muted { color: #666; font-size: .85rem; }
</style>
"""

PICKER_PAGE = (
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in to your account</title>"""
    + _STYLE
    + """</head>
<body><main>
  <p class="banner">Entra ID emulator: for demos and tests only</p>
  <h1>Pick an account</h1>
  <p class="muted">to continue to {{ client.name }}</p>
  <form method="post" action="{{ action }}">
    <input type="hidden" name="ctx" value="{{ context_id }}">
    {% for account in accounts %}
    <div class="account">
      <button type="submit" name="user" value="{{ account.email }}">{{ account.name }}</button>
      <span class="muted">{{ account.email }} ({{ account.tenant }})</span>
    </div>
    {% endfor %}
    <button type="submit" name="action" value="cancel">Cancel</button>
  </form>
</main></body></html>
"""
)

CONSENT_PAGE = (
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Permissions requested</title>"""
    + _STYLE
    + """</head>
<body><main>
  <p class="banner">Entra ID emulator: for demos and tests only</p>
  <h1>Permissions requested</h1>
  <p>{{ user.display_name }} ({{ user.email }})</p>
  <p><strong>{{ client.name }}</strong> would like to:</p>
  <ul>{% for scope in scopes %}<li>{{ scope }}</li>{% endfor %}</ul>
  <form method="post" action="{{ action }}">
    <input type="hidden" name="ctx" value="{{ context_id }}">
    <button class="primary" type="submit" name="decision" value="accept">Accept</button>
    <button type="submit" name="decision" value="cancel">Cancel</button>
  </form>
</main></body></html>
"""
)

ERROR_PAGE = (
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in error</title>"""
    + _STYLE
    + """</head>
<body><main>
  <p class="banner">Entra ID emulator: for demos and tests only</p>
  <h1>Sorry, but we're having trouble signing you in.</h1>
  <p>{{ code }}: {{ message }}</p>
</main></body></html>
"""
)

FORM_POST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Working...</title></head>
<body onload="document.forms[0].submit()">
  <form method="post" action="{{ action }}">
    {% for name, value in params.items() %}
    <input type="hidden" name="{{ name }}" value="{{ value }}">
    {% endfor %}
    <noscript><button type="submit">Continue</button></noscript>
  </form>
</body></html>
"""

SIGNED_OUT_PAGE = (
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Signed out</title>
{% if target %}<meta http-equiv="refresh" content="2;url={{ target }}">{% endif %}"""
    + _STYLE
    + """</head>
<body><main>
  <p class="banner">Entra ID emulator: for demos and tests only</p>
  <h1>You signed out of your account</h1>
  {% for frame in frames %}<iframe src="{{ frame }}" hidden title="sign-out"></iframe>{% endfor %}
  {% if target %}<p><a href="{{ target }}">Continue</a></p>{% endif %}
</main></body></html>
"""
)
