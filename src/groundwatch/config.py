"""groundwatch.toml, validated with pydantic; every setting overridable from the environment.

Environment variables take precedence over the file: ``GROUNDWATCH_STORE__URL`` sets
``[store] url``; nested keys use ``__``. Lists of tables (``sources``, ``alerts``) can be given
as JSON (``GROUNDWATCH_SOURCES='[{"type": "mqtt", ...}]'``). Secrets (InfluxDB token or
password, MQTT password) are ``SecretStr`` and may instead be read from a file named by the
matching ``*_file`` key; they are never logged.

Part-specific options (``[[sources]]``, ``[[alerts]]``) are validated by the part's own
``from_config()`` so that each part owns its settings; ``load_config`` +
``groundwatch.wiring.build_pipeline`` validate everything without opening a connection.
``docs/configuration.md`` is generated from these models (``groundwatch.reference``).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from groundwatch.parts import ConfigError


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def read_secret(value: SecretStr | None, file: Path | None, key: str) -> str | None:
    """A secret from its value or from a file (first line, stripped)."""
    if value is not None:
        return value.get_secret_value()
    if file is not None:
        try:
            return file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{key}_file", f"cannot read {file}: {exc.strerror}") from exc
    return None


class MissionConfig(Section):
    dictionary: Path = Field(description="telemetry dictionary file (see format)")
    schedule: Path | None = Field(default=None, description="planned contacts (YAML or CSV)")
    allow_python_layouts: bool = Field(
        default=False, description="load python: layouts of the dictionary (they run code)"
    )
    format: str | None = Field(
        default=None,
        description="dictionary format (a registered part, e.g. yaml); default: by file suffix",
    )


class PartConfig(BaseModel):
    """A ``[[sources]]`` or ``[[alerts]]`` table: ``type`` picks the part, the rest is its own."""

    model_config = ConfigDict(extra="allow")
    type: str
    name: str | None = None

    def options(self) -> dict[str, Any]:
        return self.model_dump(exclude={"type"}, exclude_none=True)


class StoreConfig(Section):
    type: str = Field(default="influx", description="the store sink part (`groundwatch plugins`)")
    url: str = Field(default="http://127.0.0.1:8086", description="InfluxDB URL")
    api: Literal["auto", "v1", "v2"] = Field(
        default="auto",
        description="v1 (1.x /write), v2 (2.x/3.x), auto from /ping's version header",
    )
    # InfluxDB 1.x
    database: str = Field(default="groundwatch", description="InfluxDB 1.x database")
    retention_policy: str | None = Field(default=None, description="InfluxDB 1.x policy")
    username: str | None = Field(default=None, description="InfluxDB 1.x user")
    password: SecretStr | None = Field(default=None, description="InfluxDB 1.x password")
    password_file: Path | None = Field(default=None, description="file holding the password")
    # InfluxDB 2.x / 3.x
    org: str | None = Field(default=None, description="InfluxDB 2.x/3.x organisation")
    bucket: str | None = Field(default=None, description="InfluxDB 2.x/3.x bucket")
    token: SecretStr | None = Field(default=None, description="InfluxDB 2.x/3.x token")
    token_file: Path | None = Field(default=None, description="file holding the token")
    ca_file: Path | None = Field(
        default=None,
        description="https: CA that signed InfluxDB's certificate (system CAs when unset)",
    )
    create_database: bool = Field(
        default=True, description="1.x: CREATE DATABASE when missing (needs the right)"
    )
    # batching and delivery
    batch_size: int = Field(default=5000, gt=0, le=100_000, description="points per write")
    flush_interval: float = Field(
        default=0.2, gt=0, le=60, description="seconds, at most, before a partial batch is sent"
    )
    timeout: float = Field(default=10.0, gt=0, description="seconds per write")
    max_retry_delay: float = Field(
        default=30.0, gt=0, description="seconds, longest wait between retries of the spool"
    )
    queue_size: int = Field(
        default=50_000, gt=0, description="points held in memory before the spool takes them"
    )
    queue_mb: float = Field(
        default=256, gt=0, description="the same points' size in MB, bounded too"
    )
    spool_dir: Path = Field(default=Path("var/spool"), description="disk spool for outages")
    spool_budget_mb: float = Field(
        default=1024, gt=0, description="spool size beyond which new points are refused"
    )
    dead_letter: Path = Field(
        default=Path("var/dead-letter.lp"),
        description="lines InfluxDB refused for good, with the reason",
    )

    @model_validator(mode="after")
    def _v2_needs_bucket(self) -> StoreConfig:
        if self.api == "v2" and not self.bucket:
            raise ValueError("api = 'v2' needs bucket (and org, token)")
        return self

    def secret_password(self) -> str | None:
        return read_secret(self.password, self.password_file, "store.password")

    def secret_token(self) -> str | None:
        return read_secret(self.token, self.token_file, "store.token")


class ArchiveConfig(Section):
    enabled: bool = Field(default=True, description="keep every raw frame")
    dir: Path = Field(default=Path("var/archive"), description="where pass files go")
    idle_gap: float = Field(default=60.0, gt=0, description="seconds of silence that end a pass")
    max_file_mb: float = Field(default=256, gt=0, description="a file is closed at this size")
    max_file_age: float = Field(default=3600, gt=0, description="seconds a file stays open")
    retention_days: float | None = Field(
        default=30, gt=0, description="days pass files are kept (none: forever)"
    )
    max_open_files: int = Field(
        default=256, ge=4, description="pass files open at once (least recently written closed)"
    )


# Durations in seconds are bounded (a year): 1e308 would overflow nanosecond arithmetic.
MAX_SECONDS = 365 * 86400.0


class SpacecraftLinkConfig(Section):
    los_threshold: float | None = Field(default=None, gt=0, le=MAX_SECONDS, description="seconds")
    los_frames: float | None = Field(
        default=None, gt=0, le=1e6, description="LOS after this many expected frame intervals"
    )
    frame_interval: float | None = Field(
        default=None, gt=0, le=MAX_SECONDS, description="expected, seconds"
    )


class LinkConfig(Section):
    los_threshold: float = Field(
        default=5.0, gt=0, le=MAX_SECONDS, description="seconds without a valid frame"
    )
    aos_frames: int = Field(default=2, ge=1, description="valid frames to confirm AOS")
    tick: float = Field(default=0.05, gt=0, le=1, description="monitor resolution, seconds")
    accounting_interval: float = Field(
        default=1.0, gt=0, le=MAX_SECONDS, description="seconds between link series points"
    )
    heartbeat_timeout: float = Field(
        default=10.0, gt=0, le=MAX_SECONDS,
        description="seconds without a station heartbeat: GROUND_PATH_DOWN",
    )
    schedule_margin: float = Field(
        default=30.0, ge=0, le=MAX_SECONDS,
        description="seconds around a planned contact's start or end",
    )
    degraded_crc_rate: float = Field(
        default=0.2, gt=0, le=1, description="CRC failure rate that makes a link LINK_DEGRADED"
    )
    degraded_window: float = Field(
        default=10.0, gt=0, le=MAX_SECONDS,
        description="seconds over which the failure rate is taken",
    )
    limit_persistence: int = Field(
        default=2, ge=1, description="samples out of limits before LIMIT_ENTER"
    )
    limit_persistence_time: float = Field(
        default=1.0, ge=0, le=MAX_SECONDS,
        description="seconds of pass time a new limit state must hold",
    )
    limit_deadband: float = Field(
        default=0.02, ge=0, le=1,
        description="default deadband (hysteresis) of a limit, a fraction of |limit|",
    )
    degraded_enter_delay: float = Field(
        default=2.0, ge=0, le=MAX_SECONDS,
        description="seconds a link stays bad before LINK_DEGRADED",
    )
    degraded_clear_delay: float = Field(
        default=5.0, ge=0, le=MAX_SECONDS,
        description="seconds a link stays good before LINK_RECOVERED",
    )
    rule_interval: float = Field(
        default=0.1, gt=0, le=10, description="seconds of pass time between rule judgements"
    )
    flap_window: float = Field(
        default=10.0, ge=0, le=MAX_SECONDS,
        description="seconds a limit, quality, stale or rule recovery is held to fold flaps",
    )
    stale_after: float = Field(
        default=10.0, gt=0, le=MAX_SECONDS, description="seconds without a key parameter: STALE"
    )
    max_stations: int = Field(
        default=1000, gt=0, description="stations heard lately; frames of more are rejected"
    )
    station_forget_after: float = Field(
        default=600.0,
        gt=0,
        le=MAX_SECONDS,
        description="seconds of silence after which what is kept for a station is dropped",
    )
    renotify_interval: float = Field(
        default=300.0,
        gt=0,
        le=MAX_SECONDS,
        description="seconds between re-notifications of an unacknowledged critical alert",
    )
    spacecraft: dict[str, SpacecraftLinkConfig] = Field(
        default_factory=dict, description="per spacecraft: [link.spacecraft.<name>]"
    )
    # Station time (see link.monitor): late events, links restored after a restart.
    late_after: float = Field(
        default=5.0,
        gt=0,
        le=MAX_SECONDS,
        description="seconds after its pass time an event is raised late",
    )
    restore_window: float = Field(
        default=3600.0,
        ge=0,
        le=MAX_SECONDS,
        description="seconds: a link heard this recently is restored at start",
    )
    redelivery_grace: float = Field(
        default=10.0,
        gt=0,
        le=MAX_SECONDS,
        description="seconds a restored link waits for its station's backlog",
    )
    degraded_station_rssi: float | None = Field(
        default=None, description="dBm: LINK_DEGRADED when a station reports less (mean)"
    )
    degraded_station_snr: float | None = Field(
        default=None, description="dB: LINK_DEGRADED when a station reports less (mean)"
    )


class HealthConfig(Section):
    listen: str | None = Field(default=None, description="host:port for /health and /metrics")
    status_interval: float = Field(
        default=1.0, gt=0, description="seconds between status lines of groundwatch run"
    )

    @field_validator("listen")
    @classmethod
    def _host_port(cls, v: str | None) -> str | None:
        if v is not None:
            host, sep, port = v.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
                raise ValueError(f"expected host:port, got {v!r}")
        return v


def _default_sources() -> list[PartConfig]:
    return [PartConfig(type="mqtt")]


def _default_alerts() -> list[PartConfig]:
    return [PartConfig(type="log"), PartConfig(type="influx")]


class Settings(BaseSettings):
    """The whole configuration."""

    model_config = SettingsConfigDict(
        env_prefix="GROUNDWATCH_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    mission: MissionConfig
    sources: list[PartConfig] = Field(default_factory=_default_sources)
    store: StoreConfig = Field(default_factory=StoreConfig)
    archive: ArchiveConfig = Field(default_factory=ArchiveConfig)
    link: LinkConfig = Field(default_factory=LinkConfig)
    alerts: list[PartConfig] = Field(default_factory=_default_alerts)
    health: HealthConfig = Field(default_factory=HealthConfig)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats the file; the file comes in through init kwargs (see load_config).
        return (env_settings, init_settings)


def format_validation_error(exc: ValidationError) -> list[str]:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"{key}: {err['msg']}")
    return lines


def parse_part_options(model: type[BaseModel], options: Any, key: str) -> Any:
    """A part's own options table validated by its model, or a ConfigError naming
    ``key.<field>`` and the problem (``from_config()`` of sources and sinks)."""
    try:
        return model(**dict(options))
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"{key}.{field}" if field else key, err["msg"]) from exc


class ConfigFileError(Exception):
    """Raised with every problem found, each naming its key."""

    def __init__(self, path: Path | None, problems: list[str]) -> None:
        where = f"{path}: " if path else ""
        super().__init__(where + "; ".join(problems))
        self.path = path
        self.problems = problems


def load_config(path: Path | None, **overrides: Any) -> Settings:
    """Read ``path`` (TOML), apply environment overrides, validate. No I/O beyond reading."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigFileError(path, ["file not found"]) from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigFileError(path, [f"not valid TOML: {exc}"]) from exc
    data.update(overrides)
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        raise ConfigFileError(path, format_validation_error(exc)) from exc
    except SettingsError as exc:  # e.g. GROUNDWATCH_SOURCES that is not JSON
        m = re.search(r'field "(\w+)"', str(exc))
        var = f"GROUNDWATCH_{m.group(1).upper()}" if m else "environment"
        why = exc.__cause__ or exc
        raise ConfigFileError(path, [f"{var}: not valid JSON ({why})"]) from exc
    base = path.parent if path is not None else Path.cwd()
    _resolve_paths(settings, base)
    return settings


def _resolve_paths(settings: Settings, base: Path) -> None:
    """Relative paths in the file are relative to the file, as an operator expects."""

    def fix(p: Path) -> Path:
        return p if p.is_absolute() else (base / p)

    settings.mission.dictionary = fix(settings.mission.dictionary)
    if settings.mission.schedule is not None:
        settings.mission.schedule = fix(settings.mission.schedule)
    settings.store.spool_dir = fix(settings.store.spool_dir)
    if settings.store.token_file is not None:
        settings.store.token_file = fix(settings.store.token_file)
    if settings.store.password_file is not None:
        settings.store.password_file = fix(settings.store.password_file)
    if settings.store.ca_file is not None:
        settings.store.ca_file = fix(settings.store.ca_file)
    settings.store.dead_letter = fix(settings.store.dead_letter)
    settings.archive.dir = fix(settings.archive.dir)
    # Files named in a part's own table (password_file, ca_file, ack_secrets_file, ...)
    for part in (*settings.sources, *settings.alerts):
        extra = part.__pydantic_extra__ or {}
        for k, v in extra.items():
            if k.endswith("_file") and isinstance(v, str | Path) and str(v):
                extra[k] = str(fix(Path(v)))


__all__ = [
    "ArchiveConfig",
    "ConfigFileError",
    "HealthConfig",
    "LinkConfig",
    "MissionConfig",
    "PartConfig",
    "Settings",
    "StoreConfig",
    "TomlConfigSettingsSource",
    "load_config",
    "read_secret",
]
