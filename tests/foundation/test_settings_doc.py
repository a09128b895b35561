from pathlib import Path

from portal.settings import settings_reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


def test_settings_doc_is_current():
    assert DOC.read_text() == settings_reference(), (
        "docs/settings.md is stale; run `portal settings --markdown > docs/settings.md`"
    )
