"""`portal up` runs the local registries unless real ones are configured."""

from portal.settings import load_settings
from services.registries.local import sdk_services


def test_portal_up_runs_local_registries(tmp_path):
    settings = load_settings(state_dir=tmp_path / "state")
    services, notes = sdk_services(settings, {"PORTAL_STATE_DIR": str(tmp_path / "state")})

    names = [service.name for service in services]
    assert names == ["pypiserver", "verdaccio", "issue-tracker"]
    assert (tmp_path / "state" / "registries" / "go" / "verify-go.git" / "HEAD").exists()
    assert any("verify-go.git" in note for note in notes)
    htpasswd = (tmp_path / "state" / "registries" / "pypi" / "htpasswd").read_text()
    assert htpasswd.startswith("devrel:$apr1$")
    assert "local-pypi-password" not in htpasswd


def test_real_registries_start_no_local_server(tmp_path):
    settings = load_settings(
        state_dir=tmp_path / "state",
        sdk_pypi_url="https://upload.pypi.example/",
        sdk_npm_url="https://npm.example/",
        sdk_tracker_url="https://api.github.example",
        sdk_go_repository_url="https://git.example/verify-go.git",
    )
    services, _ = sdk_services(settings, {})

    assert services == []
