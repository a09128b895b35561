import pytest

from portal.settings import SettingsError, load_settings


def test_defaults_load():
    settings = load_settings()
    assert settings.api_port == 8000
    assert settings.temporal_port == 7233


def test_env_variable_overrides(monkeypatch):
    monkeypatch.setenv("PORTAL_API_PORT", "9100")
    assert load_settings().api_port == 9100


def test_invalid_port_names_variable(monkeypatch):
    monkeypatch.setenv("PORTAL_API_PORT", "eighty")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "PORTAL_API_PORT='eighty'" in message
    assert "Port of the portal API" in message


def test_invalid_address_names_form(monkeypatch):
    monkeypatch.setenv("PORTAL_TEMPORAL_ADDRESS", "no-port-here")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "PORTAL_TEMPORAL_ADDRESS" in str(caught.value)
    assert "HOST:PORT" in str(caught.value)


def test_cli_rejects_invalid_setting(monkeypatch):
    from typer.testing import CliRunner

    from portal.cli import app

    monkeypatch.setenv("PORTAL_REDIS_URL", "http://not-redis")
    result = CliRunner().invoke(app, ["settings"])
    assert result.exit_code == 2
    assert "PORTAL_REDIS_URL" in result.output
