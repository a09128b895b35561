"""Each SDK builds from source with its own toolchain, reproducibly, and fails clearly."""

import shutil
import zipfile

import pytest

from portal.sdk.builds import build_artifact
from portal.sdk.config import REPO_ROOT, sdk_config
from portal.sdk.errors import BuildFailedError
from portal.sdk.languages import Language
from portal.sdk.tools import file_checksums
from portal.settings import load_settings
from tests.harness.servers import unavailable

pytestmark = pytest.mark.asyncio(loop_scope="session")


def config_for(tmp_path, source_dir=None):
    return sdk_config(load_settings(state_dir=tmp_path / "state", sdk_source_dir=source_dir))


async def test_python_wheel_is_reproducible(tmp_path):
    config = config_for(tmp_path)
    first = await build_artifact(config, Language.PYTHON, "2.3.0-rc.1", tmp_path / "one")
    second = await build_artifact(config, Language.PYTHON, "2.3.0-rc.1", tmp_path / "two")

    assert [path.name for path in first] == ["example_sms_verify-2.3.0rc1-py3-none-any.whl"]
    assert file_checksums(first[0]) == file_checksums(second[0])
    with zipfile.ZipFile(first[0]) as wheel:
        version_file = wheel.read("example_sms_verify/_version.py").decode()
    assert '__version__ = "2.3.0rc1"' in version_file


async def test_go_module_zip_is_stamped(tmp_path):
    if shutil.which("go") is None:
        unavailable("go is not installed; run scripts/setup.sh")
    config = config_for(tmp_path)
    files = await build_artifact(config, Language.GO, "2.3.0", tmp_path / "go")

    with zipfile.ZipFile(files[0]) as module:
        names = module.namelist()
        version_file = module.read("version.go").decode()
    assert {"go.mod", "verify.go", "version.go"} <= set(names)
    assert 'const Version = "2.3.0"' in version_file


async def test_broken_source_fails_with_tool_output(tmp_path):
    if shutil.which("go") is None:
        unavailable("go is not installed; run scripts/setup.sh")
    sources = tmp_path / "sdks"
    shutil.copytree(REPO_ROOT / "sdks" / "go", sources / "go")
    (sources / "go" / "broken.go").write_text("package verify\n\nfunc Broken() int { return }\n")
    config = config_for(tmp_path, sources)

    with pytest.raises(BuildFailedError) as caught:
        await build_artifact(config, Language.GO, "2.3.0", tmp_path / "go")
    assert "`go vet ./...` failed" in caught.value.message
    assert "broken.go" in caught.value.message
    assert not caught.value.retryable


async def test_missing_sources_name_the_setting(tmp_path):
    config = config_for(tmp_path, tmp_path / "nowhere")

    with pytest.raises(BuildFailedError, match="PORTAL_SDK_SOURCE_DIR"):
        await build_artifact(config, Language.PYTHON, "2.3.0", tmp_path / "python")


def test_default_go_module_matches_go_mod():
    from portal.sdk.config import DEFAULT_GO_MODULE, read_go_module

    assert read_go_module(REPO_ROOT / "sdks") == DEFAULT_GO_MODULE
