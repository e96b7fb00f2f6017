"""Configuration: hub.toml, HUB_* variables, .env, validation messages, production refusals, dev secrets."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from hub.core.config import load_settings, production_problems
from hub.core.secrets import load_keys
from hub.errors import ConfigError


def test_defaults_put_sqlite_in_the_instance_folder(tmp_path):
    settings = load_settings(environ={"HUB_INSTANCE_PATH": str(tmp_path / "inst")})
    assert settings.instance_path == (tmp_path / "inst").resolve()
    assert settings.database_url == f"sqlite:///{(tmp_path / 'inst' / 'hub.sqlite3').resolve()}"
    assert settings.base_url == "http://localhost:5001"
    assert settings.production is False


def test_toml_env_and_dotenv_precedence(tmp_path):
    config = tmp_path / "hub.toml"
    config.write_text(
        '[hub]\nbase_url = "https://from-toml.test"\nlog_format = "json"\nsession_idle_minutes = 5\n'
        '[providers.contoso]\ntype = "fake"\nname = "Contoso"\nclient_id = "abc"\n'
    )
    dotenv = tmp_path / ".env"
    dotenv.write_text("HUB_LOG_FORMAT=text\nHUB_SESSION_IDLE_MINUTES=7\nHUB_PROVIDERS__CONTOSO__CLIENT_SECRET=s3\n")
    settings = load_settings(
        environ={"HUB_CONFIG": str(config), "HUB_INSTANCE_PATH": str(tmp_path), "HUB_SESSION_IDLE_MINUTES": "9"},
        dotenv_path=dotenv,
    )
    assert settings.base_url == "https://from-toml.test"
    assert settings.log_format == "text"  # .env beats hub.toml
    assert settings.session_idle_minutes == 9  # the environment beats .env
    assert settings.providers["contoso"] == {"type": "fake", "name": "Contoso", "client_id": "abc", "client_secret": "s3"}


def test_default_config_file_is_read_from_the_instance_folder(tmp_path):
    (tmp_path / "hub.toml").write_text('[hub]\nbase_url = "https://instance.test"\n')
    assert load_settings(environ={"HUB_INSTANCE_PATH": str(tmp_path)}).base_url == "https://instance.test"


@pytest.mark.parametrize(
    "environ, message",
    [
        ({"HUB_PRODUCTION": "maybe"}, "HUB_PRODUCTION: expected true or false, got 'maybe'"),
        ({"HUB_SESSION_IDLE_MINUTES": "ten"}, "HUB_SESSION_IDLE_MINUTES: expected a whole number, got 'ten'"),
        ({"HUB_BASE_URL": "ftp://x"}, "base_url: expected the hub's public origin"),
        ({"HUB_LOG_FORMAT": "xml"}, "log_format: expected text or json, got 'xml'"),
        ({"HUB_CONFIG": "/nonexistent/hub.toml"}, "HUB_CONFIG: expected the path of a hub.toml file"),
        ({"HUB_PROVIDERS__X": "1"}, "HUB_PROVIDERS__X: expected HUB_PROVIDERS__<ID>__<SETTING>"),
        ({"HUB_REFRESH_REUSE_GRACE_SECONDS": "3600"}, "refresh_reuse_grace_seconds: expected 0 to 60 seconds"),
        ({"HUB_REFRESH_REUSE_GRACE_SECONDS": "-1"}, "HUB_REFRESH_REUSE_GRACE_SECONDS: expected zero or more"),
    ],
)
def test_malformed_settings_name_the_setting_and_what_is_expected(tmp_path, environ, message):
    with pytest.raises(ConfigError) as error:
        load_settings(environ={"HUB_INSTANCE_PATH": str(tmp_path), **environ})
    assert message in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    "toml, message",
    [
        ("[hub\n", "not valid TOML"),
        ('[hub]\ncolour = "blue"\n', "unknown setting hub.colour"),
        ('[providers.x]\ntype = "fake"\nredirect_uri = "/callback"\n', "providers.x.redirect_uri: expected an absolute http(s) URL"),
        ('[providers."bad id!"]\ntype = "fake"\n', "providers.bad id!: expected an id of letters"),
    ],
)
def test_malformed_toml_names_the_problem(tmp_path, toml, message):
    (tmp_path / "hub.toml").write_text(toml)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings(environ={"HUB_INSTANCE_PATH": str(tmp_path)})


def test_dev_secrets_are_generated_once_and_kept_private(tmp_path):
    settings = load_settings(environ={"HUB_INSTANCE_PATH": str(tmp_path)})
    first, second = load_keys(settings), load_keys(settings)
    assert first.secret_key == second.secret_key and first.audit_key == second.audit_key
    assert first.generated == {"secret_key", "token_keys", "audit_key"}
    mode = stat.S_IMODE(Path(tmp_path / "dev-secrets.json").stat().st_mode)
    assert mode == 0o600


def test_given_secrets_are_used_and_not_generated(tmp_path):
    settings = load_settings(
        environ={
            "HUB_INSTANCE_PATH": str(tmp_path),
            "HUB_SECRET_KEY": "s" * 40,
            "HUB_AUDIT_KEY": "a" * 40,
            "HUB_TOKEN_KEYS": "k1:" + "A" * 43 + "=",
        }
    )
    keys = load_keys(settings)
    assert keys.generated == frozenset()
    assert keys.secret_key == b"s" * 40
    assert not (tmp_path / "dev-secrets.json").exists()


def test_short_secret_key_is_refused(tmp_path):
    settings = load_settings(environ={"HUB_INSTANCE_PATH": str(tmp_path), "HUB_SECRET_KEY": "short"})
    with pytest.raises(ConfigError, match="secret_key: expected at least 32 characters"):
        load_keys(settings)


def test_production_refuses_dev_secrets_sqlite_and_plain_http(tmp_path):
    settings = load_settings(environ={"HUB_INSTANCE_PATH": str(tmp_path), "HUB_BASE_URL": "http://hub.example.test"})
    problems = production_problems(
        settings,
        {"entra": "http://hub.example.test/callback", "dev": "http://localhost:5001/cb"},
        {"secret_key", "audit_key", "token_keys"},
    )
    text = "\n".join(problems)
    assert "secret_key: generated development secret" in text
    assert "database_url: SQLite is for development" in text
    assert "base_url: expected https in production" in text
    assert "providers.entra.redirect_uri: expected https" in text
    assert "providers.dev" not in text  # loopback http is allowed


def test_production_accepts_a_proper_configuration(tmp_path):
    settings = load_settings(
        environ={
            "HUB_INSTANCE_PATH": str(tmp_path),
            "HUB_BASE_URL": "https://hub.example.test",
            "HUB_DATABASE_URL": "postgresql+psycopg://hub@db/hub",
            "HUB_RATELIMIT_STORAGE": "redis://127.0.0.1:6379/0",
        }
    )
    assert production_problems(settings, {"entra": "https://hub.example.test/callback"}, set()) == []


def test_an_explicit_environment_ignores_the_working_directorys_env_file(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("HUB_LOG_FORMAT=json\n")
    monkeypatch.chdir(tmp_path)
    assert load_settings(environ={"HUB_INSTANCE_PATH": str(tmp_path)}).log_format == "text"
    monkeypatch.setattr("os.environ", {"HUB_INSTANCE_PATH": str(tmp_path)})
    assert load_settings().log_format == "json"  # the real process environment is filled from .env


# --- production: the secrets, the storage, every entry point (issue 17) ----------------------------


def _production_environ(tmp_path, **secrets: str) -> dict[str, str]:
    from hub.core.secrets import new_secrets

    return {
        "HUB_INSTANCE_PATH": str(tmp_path),
        "HUB_PRODUCTION": "true",
        "HUB_BASE_URL": "https://hub.example.test",
        "HUB_DATABASE_URL": "postgresql+psycopg://hub@db/hub",
        "HUB_RATELIMIT_STORAGE": "redis://127.0.0.1:6379/0",
        **{f"HUB_{name.upper()}": value for name, value in new_secrets().items()},
        **secrets,
    }


def _refusal(environ: dict[str, str]) -> str:
    from hub.core.production import ProductionRefused
    from hub.runtime import Runtime

    with pytest.raises(ProductionRefused) as refused:
        Runtime.load(load_settings(environ=environ))
    return str(refused.value)


def test_production_refuses_weak_and_reused_secrets_and_says_how_to_make_good_ones(tmp_path):
    good = _production_environ(tmp_path)
    text = _refusal(
        {
            **good,
            "HUB_SECRET_KEY": "x" * 32,
            "HUB_AUDIT_KEY": "x" * 32,
            "HUB_TOKEN_KEYS": "k1:" + "A" * 43,  # 32 zero bytes
        }
    )
    assert "secret_key: it is one piece repeated" in text
    assert "audit_key: the same value as secret_key" in text
    assert "token_keys (key 'k1'): it is one piece repeated" in text
    assert "hub secrets new" in text
    assert "x" * 32 not in text  # a problem names the setting, never its value
    assert "refusing to start in production: audit_key: the same value as secret_key" in _refusal(
        {**good, "HUB_AUDIT_KEY": good["HUB_SECRET_KEY"]}
    )
    low_variety = "abcd" * 7 + "abcX"  # 32 characters from 5: too little variety
    assert "secret_key: too little variety" in _refusal({**good, "HUB_SECRET_KEY": low_variety})
    assert not (tmp_path / "dev-secrets.json").exists()


def test_secrets_new_values_and_random_hex_pass_the_rules():
    import secrets

    from hub.core.secrets import new_secrets, secret_problems

    assert secret_problems(new_secrets()) == []
    assert secret_problems({"secret_key": secrets.token_hex(16), "audit_key": secrets.token_hex(32)}) == []


@pytest.mark.parametrize("storage", ["MEMORY://", "Memory://", "memory://"])
def test_production_refuses_in_process_rate_limits_however_written(tmp_path, storage):
    text = _refusal({**_production_environ(tmp_path), "HUB_RATELIMIT_STORAGE": storage})
    assert f"ratelimit_storage: {storage} counts per process" in text


def test_a_refused_production_start_writes_nothing(tmp_path):
    instance = tmp_path / "instance"
    text = _refusal({"HUB_INSTANCE_PATH": str(instance), "HUB_PRODUCTION": "true"})
    assert "secret_key: generated development secret" in text and "hub secrets new" in text
    assert "base_url: not configured" in text
    assert not instance.exists()  # before: instance/dev-secrets.json was written first


def test_the_refresh_grace_window_is_short_by_default_and_may_be_switched_off(tmp_path):
    assert load_settings(environ={"HUB_INSTANCE_PATH": str(tmp_path)}).refresh_reuse_grace_seconds == 10
    strict = load_settings(environ={"HUB_INSTANCE_PATH": str(tmp_path), "HUB_REFRESH_REUSE_GRACE_SECONDS": "0"})
    assert strict.refresh_reuse_grace_seconds == 0


def test_a_token_key_without_an_id_is_never_printed_by_the_production_check(tmp_path):
    """A ring entry written without `kid:` is all key: the refusal names its position, not its text."""
    bare = "q8Zr3v" + "A" * 20  # too short, so it is refused and named
    text = _refusal({**_production_environ(tmp_path), "HUB_TOKEN_KEYS": bare})
    assert "token_keys (key 'entry 1')" in text
    assert bare not in text and bare[:6] not in text
