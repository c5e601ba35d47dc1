"""Process settings: env vars, tendero.toml, defaults, the generated secret key."""

from __future__ import annotations

from pathlib import Path

import pytest
from tendero.settings import Settings

ALL_NAMES = """DATABASE_URL DATA_DIR SECRET_KEY GRAPH_API_URL INSTAGRAM_GRAPH_API_URL
GRAPH_API_VERSION WHATSAPP_APP_SECRET WHATSAPP_VERIFY_TOKEN WHATSAPP_ACCESS_TOKEN
WHATSAPP_PHONE_NUMBER_ID FACEBOOK_APP_SECRET FACEBOOK_VERIFY_TOKEN
FACEBOOK_PAGE_ACCESS_TOKEN FACEBOOK_PAGE_ID FACEBOOK_APP_ID INSTAGRAM_APP_SECRET
INSTAGRAM_VERIFY_TOKEN INSTAGRAM_ACCESS_TOKEN INSTAGRAM_ACCOUNT_ID INSTAGRAM_APP_ID
LLM_MODEL LLM_BASE_URL LLM_API_KEY SMTP_URL MAIL_FROM MERCHANT_EMAIL""".split()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ALL_NAMES:
        monkeypatch.delenv(f"TENDERO_{name}", raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults_match_the_contract() -> None:
    s = Settings()
    assert s.data_dir == Path("data")
    assert s.graph_api_url == "https://graph.facebook.com"
    assert s.instagram_graph_api_url == "https://graph.instagram.com"
    assert s.graph_api_version == "v25.0"
    assert s.llm_model == ""
    assert (
        s.effective_database_url == f"sqlite+aiosqlite:///{Path('data').resolve() / 'tendero.db'}"
    )


@pytest.mark.parametrize("name", ALL_NAMES)
def test_every_contract_name_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(f"TENDERO_{name}", "/tmp/x" if name == "DATA_DIR" else "value-1")
    value = getattr(Settings(), name.lower())
    assert str(value) == ("/tmp/x" if name == "DATA_DIR" else "value-1")


def test_toml_file_is_read_and_env_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "tendero.toml").write_text(
        'graph_api_version = "v99.0"\nwhatsapp_verify_token = "from-toml"\n'
    )
    assert Settings().graph_api_version == "v99.0"
    monkeypatch.setenv("TENDERO_WHATSAPP_VERIFY_TOKEN", "from-env")
    s = Settings()
    assert (s.graph_api_version, s.whatsapp_verify_token) == ("v99.0", "from-env")


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path / "d")
    key = s.ensure_secret_key()
    assert len(key) >= 40
    assert Settings(data_dir=tmp_path / "d").ensure_secret_key() == key
    assert (tmp_path / "d" / "secret_key").stat().st_mode & 0o777 == 0o600


def test_given_secret_key_wins_and_writes_nothing(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path / "d", secret_key="given")
    assert s.ensure_secret_key() == "given"
    assert not (tmp_path / "d" / "secret_key").exists()
