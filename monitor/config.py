"""Load and validate the TOML configuration into frozen dataclasses; raise ConfigError on bad input."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


class ConfigError(ValueError):
    """Raised by `load` when the config file is missing, unreadable or has a bad key or value.

    The message always names the offending key, e.g. ``sources.syncfeed.poll_interval``.
    """


@dataclass(frozen=True, slots=True)
class StorageConfig:
    data_dir: str = "data"
    database_url: str = ""


@dataclass(frozen=True, slots=True)
class SyncFeedConfig:
    enabled: bool = True
    base_url: str = "https://gegevensmagazijn.tweedekamer.nl/SyncFeed/2.0"
    categories: list[str] = field(
        default_factory=lambda: ["Zaak", "ZaakActor", "Document", "DocumentVersie"]
    )
    start_date: str = ""
    poll_interval: float = 300.0
    max_pages: int = 200


@dataclass(frozen=True, slots=True)
class TweedeKamerConfig:
    enabled: bool = False
    base_url: str = "https://www.tweedekamer.nl"
    recheck_days: int = 14
    listing_pages: int = 0


@dataclass(frozen=True, slots=True)
class FilesConfig:
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class KoopConfig:
    enabled: bool = True
    repository_url: str = "https://repository.overheid.nl"
    sru_url: str = "https://repository.overheid.nl/sru"
    zoek_url: str = "https://zoek.officielebekendmakingen.nl"
    poll_interval: float = 300.0
    recheck_days: int = 30
    sru_window_days: int = 2
    missing_max_interval_hours: float = 48.0
    missing_recheck_limit: int = 25


@dataclass(frozen=True, slots=True)
class ODataConfig:
    enabled: bool = False
    base_url: str = "https://gegevensmagazijn.tweedekamer.nl/OData/v4/2.0"


@dataclass(frozen=True, slots=True)
class SourcesConfig:
    syncfeed: SyncFeedConfig = field(default_factory=SyncFeedConfig)
    tweedekamer: TweedeKamerConfig = field(default_factory=TweedeKamerConfig)
    files: FilesConfig = field(default_factory=FilesConfig)
    koop: KoopConfig = field(default_factory=KoopConfig)
    odata: ODataConfig = field(default_factory=ODataConfig)


@dataclass(frozen=True, slots=True)
class CrawlConfig:
    contact: str = "operator@example.org"
    download_delay: float = 1.0
    autothrottle: bool = True
    concurrent_requests_per_domain: int = 1
    timeout: float = 30.0
    retry_times: int = 3
    obey_robots_txt: bool = True
    extra_allowed_hosts: list[str] = field(default_factory=list)
    crawl_timeout: float = 900.0


@dataclass(frozen=True, slots=True)
class TelegramConfig:
    api_base_url: str = "https://api.telegram.org/bot"
    token_env: str = "KAMERWACHT_TELEGRAM_TOKEN"  # noqa: S105 (the name of a variable)
    token_file: str = ""
    admin_chat_ids: list[int] = field(default_factory=list)
    allowed_chat_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class WebConfig:
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = "http://127.0.0.1:8080"


@dataclass(frozen=True, slots=True)
class AlertsConfig:
    console: bool = True
    outbox_interval: float = 10.0
    max_per_run: int = 25
    max_attempts: int = 8
    max_age_days: int = 30


@dataclass(frozen=True, slots=True)
class TopicConfig:
    name: str
    description: str = ""
    terms: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    ministries: list[str] = field(default_factory=list)
    members: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration; built once by `load` and passed explicitly."""

    storage: StorageConfig = field(default_factory=StorageConfig)
    sources: SourcesConfig = field(default_factory=SourcesConfig)
    crawl: CrawlConfig = field(default_factory=CrawlConfig)
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    web: WebConfig = field(default_factory=WebConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    topics: list[TopicConfig] = field(default_factory=list)
    base_dir: str = "."

    @property
    def data_path(self) -> Path:
        path = Path(self.storage.data_dir)
        return path if path.is_absolute() else Path(self.base_dir) / path

    @property
    def database_url(self) -> str:
        if self.storage.database_url:
            return self.storage.database_url
        return f"sqlite:///{(self.data_path / 'kamerwacht.db').resolve()}"

    @property
    def allowed_hosts(self) -> tuple[str, ...]:
        """Every host a spider may contact: the configured sources plus the explicit extras."""
        urls = [
            self.sources.syncfeed.base_url,
            self.sources.tweedekamer.base_url,
            self.sources.koop.repository_url,
            self.sources.koop.sru_url,
            self.sources.koop.zoek_url,
            self.sources.odata.base_url,
        ]
        hosts = {urlsplit(u).hostname or "" for u in urls} | set(self.crawl.extra_allowed_hosts)
        return tuple(sorted(h for h in hosts if h))


_ENV_DATABASE_URL = "KAMERWACHT_DATABASE_URL"


def load(path: str | Path | None, environ: Mapping[str, str] | None = None) -> Config:
    """Read a TOML file into a `Config`; `None` gives the defaults.

    `KAMERWACHT_DATABASE_URL` in `environ` overrides `storage.database_url`, so an operator can
    keep the database password out of the file.
    """
    environ = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    base_dir = Path.cwd()
    if path is not None:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from exc
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
        base_dir = path.resolve().parent
    data["base_dir"] = str(base_dir)
    config: Config = _build(Config, data, "")
    if environ.get(_ENV_DATABASE_URL):
        storage = dataclasses.replace(config.storage, database_url=environ[_ENV_DATABASE_URL])
        config = dataclasses.replace(config, storage=storage)
    _validate(config)
    return config


def default_topics() -> list[TopicConfig]:
    """The topic that ships with Kamerwacht when the config names none."""
    return [
        TopicConfig(
            name="gezichtsherkenning",
            description="Gezichtsherkenning, biometrie en camera's met herkenning",
            terms=[
                "*gezichtsherkenning*",
                "gezichtsvergelijking*",
                "biometri*",
                "gezichtsbeeld*",
                "Clearview",
                "CATCH",
                "real time herkenning",
                "realtime herkenning",
                "camera* + herkenning*",
                "facial recognition",
                "face recognition",
            ],
        )
    ]


def _build(cls: type[Any], data: Any, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix or 'config'}: expected a table")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{_join(prefix, unknown[0])}: unknown setting")
    values: dict[str, Any] = {}
    for name, value in data.items():
        values[name] = _convert(hints[name], value, _join(prefix, name))
    missing = [
        name
        for name, f in fields.items()
        if name not in values
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{_join(prefix, missing[0])}: required setting is missing")
    return cls(**values)


def _convert(hint: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(typing.cast(type[Any], hint), value, key)
    if origin is list:
        (inner,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        return [_convert(inner, v, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is types.UnionType:
        raise ConfigError(f"{key}: unsupported setting type")  # pragma: no cover
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected a whole number, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if isinstance(value, dt.date):
            return value.isoformat()  # TOML dates may be written unquoted
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported setting type")  # pragma: no cover


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _validate(config: Config) -> None:
    urls = {
        "sources.syncfeed.base_url": config.sources.syncfeed.base_url,
        "sources.tweedekamer.base_url": config.sources.tweedekamer.base_url,
        "sources.koop.repository_url": config.sources.koop.repository_url,
        "sources.koop.sru_url": config.sources.koop.sru_url,
        "sources.koop.zoek_url": config.sources.koop.zoek_url,
        "sources.odata.base_url": config.sources.odata.base_url,
        "telegram.api_base_url": config.telegram.api_base_url,
        "web.public_url": config.web.public_url,
    }
    for key, url in urls.items():
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{key}: expected an http(s) URL, got {url!r}")
    positive = {
        "sources.syncfeed.poll_interval": config.sources.syncfeed.poll_interval,
        "sources.koop.poll_interval": config.sources.koop.poll_interval,
        "alerts.outbox_interval": config.alerts.outbox_interval,
        "crawl.timeout": config.crawl.timeout,
        "crawl.crawl_timeout": config.crawl.crawl_timeout,
        "sources.koop.missing_max_interval_hours": config.sources.koop.missing_max_interval_hours,
    }
    for key, number in positive.items():
        if number <= 0:
            raise ConfigError(f"{key}: must be greater than zero, got {number}")
    if config.sources.koop.missing_recheck_limit < 0:
        raise ConfigError(
            "sources.koop.missing_recheck_limit: must not be negative, got "
            f"{config.sources.koop.missing_recheck_limit}"
        )
    if config.crawl.download_delay < 0:
        raise ConfigError(
            f"crawl.download_delay: must not be negative, got {config.crawl.download_delay}"
        )
    if not 1 <= config.web.port <= 65535:
        raise ConfigError(f"web.port: expected a TCP port, got {config.web.port}")
    if config.sources.syncfeed.start_date:
        _check_date("sources.syncfeed.start_date", config.sources.syncfeed.start_date)
    names = [t.name for t in config.topics]
    for i, topic in enumerate(config.topics):
        if not topic.name.strip() or names.count(topic.name) > 1:
            raise ConfigError(f"topics[{i}].name: must be a unique, non-empty name")
        if not topic.terms:
            raise ConfigError(f"topics[{i}].terms: a topic needs at least one term")
    scheme = config.database_url.split(":", 1)[0]
    if not scheme.startswith(("sqlite", "postgresql")):
        raise ConfigError(
            f"storage.database_url: only SQLite and PostgreSQL are supported, got {scheme!r}"
        )


def _check_date(key: str, value: str) -> None:
    try:
        dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"{key}: expected a date like 2021-08-01, got {value!r}") from exc


def topics_of(config: Config) -> list[TopicConfig]:
    """The configured topics, or the shipped default when none are configured."""
    return list(config.topics) or default_topics()
