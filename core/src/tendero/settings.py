"""Process settings: environment variables ``TENDERO_*`` or ``tendero.toml``.

These are the operator's settings (where the data lives, channel credentials, the LLM
and mail servers). The merchant's store settings (company, workflow, shipping, bank
accounts, ...) are a different thing: a versioned document in the database, see
:mod:`tendero.store`.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

SECRET_KEY_FILE = "secret_key"


class Settings(BaseSettings):
    """Every ``TENDERO_*`` setting of the public contract (README, Configuration).

    Sources, strongest first: keyword arguments, environment variables, ``tendero.toml``
    in the working directory, the defaults below.
    """

    model_config = SettingsConfigDict(
        env_prefix="TENDERO_",
        toml_file="tendero.toml",
        extra="ignore",
        case_sensitive=False,
    )

    data_dir: Path = Path("data")
    database_url: str = ""
    database_pool_size: int = Field(
        default=10,
        ge=1,
        description="PostgreSQL connections per process: this many pooled plus as many "
        "in overflow (SQLite: one writer, a few readers)",
    )
    secret_key: str = ""

    graph_api_url: str = "https://graph.facebook.com"
    instagram_graph_api_url: str = "https://graph.instagram.com"
    graph_api_version: str = "v25.0"
    graph_timeout: float = Field(
        default=15.0,
        gt=0,
        description="seconds a Graph API call may take (a timed-out send is retried)",
    )

    whatsapp_app_secret: str = ""
    whatsapp_verify_token: str = ""
    whatsapp_access_token: str = ""
    whatsapp_phone_number_id: str = ""
    whatsapp_send_rate: float = Field(
        default=20.0,
        gt=0,
        le=1000,
        description="messages per second the outbox sends through WhatsApp (Meta allows 80 "
        "per Cloud API number, 20 for a number shared with the WhatsApp Business app)",
    )

    facebook_app_secret: str = ""
    facebook_verify_token: str = ""
    facebook_page_access_token: str = ""
    facebook_page_id: str = ""
    facebook_app_id: str = ""

    instagram_app_secret: str = ""
    instagram_verify_token: str = ""
    instagram_access_token: str = ""
    instagram_account_id: str = ""
    instagram_app_id: str = ""

    llm_model: str = ""
    llm_base_url: str = ""
    llm_api_key: str = ""

    smtp_url: str = ""
    mail_from: str = "tendero@localhost"
    merchant_email: str = ""
    mail_retry_hours: float = Field(
        default=48,
        gt=0,
        description="hours an email the SMTP server did not take is retried before it "
        "goes to <data dir>/mail/failed/",
    )

    cookie_secure: bool = Field(
        default=False, description="mark the panel's session cookie Secure (serve over HTTPS)"
    )

    webhook_max_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="largest webhook body accepted; a larger one is answered 413 unread",
    )
    media_max_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="largest photo or PDF a customer may send (bigger downloads are cut off)",
    )
    media_timeout: float = Field(
        default=30.0,
        gt=0,
        description="seconds a customer's media download may take in all",
    )

    host: str = "127.0.0.1"
    port: int = 8080
    log_level: str = "info"
    log_format: str = Field(default="console", description="console or json")
    trace_hooks: bool = False

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls),
            file_secret_settings,
        )

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to the SQLite file in the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir.resolve() / 'tendero.db'}"

    def ensure_data_dir(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir

    def ensure_secret_key(self) -> str:
        """Return the secret key, generating one into the data folder on first run.

        A key given through the environment or ``tendero.toml`` always wins; otherwise
        the key is read from ``<data dir>/secret_key`` and created (mode 0600) when
        missing, so sessions survive restarts without any configuration.
        """
        if self.secret_key:
            return self.secret_key
        path = self.ensure_data_dir() / SECRET_KEY_FILE
        if path.exists():
            key = path.read_text().strip()
            if key:
                self.secret_key = key
                return key
        key = secrets.token_urlsafe(48)
        tmp = path.with_suffix(".tmp")
        tmp.touch(mode=0o600)
        tmp.write_text(key + "\n")
        tmp.replace(path)
        self.secret_key = key
        return key


def load_settings(**overrides: object) -> Settings:
    """Build :class:`Settings` from the environment and ``tendero.toml``."""
    return Settings(**overrides)  # type: ignore[arg-type]
