"""Config loading: the example documents every setting; bad input names the key."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from monitor import config as config_module
from monitor.config import Config, ConfigError

EXAMPLE = Path(__file__).parent.parent / "config.example.toml"


def setting_keys(cls: type, prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for f in dataclasses.fields(cls):
        if f.name == "base_dir":
            continue
        name = f"{prefix}{f.name}"
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if dataclasses.is_dataclass(default):
            keys |= setting_keys(type(default), name + ".")
        elif f.name == "topics":
            keys |= {f"topics.{t.name}" for t in dataclasses.fields(config_module.TopicConfig)}
        else:
            keys.add(name)
    return keys


def example_keys() -> set[str]:
    keys: set[str] = set()
    section = ""
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        if m := re.match(r"^\[\[?([\w.]+)\]\]?$", line):
            section = m[1]
        elif m := re.match(r"^(\w+)\s*=", line):
            keys.add(f"{section}.{m[1]}" if section else m[1])
    return keys


def test_example_config_loads_and_documents_every_setting() -> None:
    loaded = config_module.load(EXAMPLE, environ={})
    assert loaded.topics[0].name == "gezichtsherkenning"
    assert setting_keys(Config) == example_keys()


def test_defaults_use_sqlite_in_the_data_folder(tmp_path: Path) -> None:
    loaded = config_module.load(None, environ={})
    assert loaded.database_url.startswith("sqlite:///")
    assert loaded.database_url.endswith("data/kamerwacht.db")


def test_environment_overrides_the_database_url() -> None:
    loaded = config_module.load(
        None, environ={"KAMERWACHT_DATABASE_URL": "postgresql+psycopg://x@h/db"}
    )
    assert loaded.database_url == "postgresql+psycopg://x@h/db"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[sources.syncfeed]\nbase_ur = 'https://x'\n", "sources.syncfeed.base_ur"),
        ("[sources.koop]\nrecheck_days = 'many'\n", "sources.koop.recheck_days"),
        ("[telegram]\napi_base_url = 'ftp://x'\n", "telegram.api_base_url"),
        ("[web]\nport = 70000\n", "web.port"),
        ("[[topics]]\nname = 'x'\n", "topics[0].terms"),
        ("[sources.syncfeed]\nstart_date = '1 augustus'\n", "sources.syncfeed.start_date"),
        ("[storage]\ndatabase_url = 'mysql://x'\n", "storage.database_url"),
        ("web = 3\n", "web"),
        ("this is not toml", "not valid TOML"),
    ],
)
def test_bad_config_gives_an_error_naming_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(key)):
        config_module.load(path, environ={})


def test_unquoted_toml_date_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[sources.syncfeed]\nstart_date = 2021-08-01\n", encoding="utf-8")
    assert config_module.load(path, environ={}).sources.syncfeed.start_date == "2021-08-01"
