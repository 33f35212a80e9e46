"""Service settings: one frozen dataclass, from keyword arguments or the ``[serve]`` table of the
pipeline's TOML config.

Every key, with its default (README.md, "The HTTP service", says what each does):

```toml
[serve]
index_dir = "my-index"            # the index folder (--index wins over it)
state_dir = "my-index.serve"      # journal of acknowledged documents + audit log (default: next to the index)
audit_path = "audit.sqlite"       # relative to state_dir unless absolute
max_body_bytes = 2_000_000
max_question_chars = 1000
max_top_k = 20
max_documents_per_request = 100   # documents in one POST /v1/documents
request_timeout_s = 120           # a read that takes longer is a 504
body_timeout_s = 30               # a client must send its whole request body within this (else 408)
header_timeout_s = 10             # ... and its request line and headers within this (else the connection is closed)
workers = 1                       # batches answered at once (each with the free cores divided among the workers)
threads = "auto"                  # torch threads: auto (the free cores divided among the workers) or a number
batch_max = 8                     # concurrent asks answered together by Pipeline.ask_batch
max_pending = 64                  # asks waiting or being answered; more are refused with 503 + Retry-After
batch_wait_ms = 5                 # how long the first ask of a batch waits for others
snapshot_interval_s = 30          # how often changed indexes are saved (the journal covers the gap)
embedder = "minilm-l6"            # for an index folder that does not exist yet
public_docs = false               # /docs, /redoc, /openapi.json without a key (default: any key needed once keys are set)
public_metrics = false            # /metrics without a key (default: any key needed once keys are set)

[[serve.api_keys]]
name = "support-bot"
sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"   # groundqa serve --hash-key KEY
scopes = ["ask"]                  # "ask", "read", "ingest" (ingest implies read)
```

Keys are stored hashed (sha256 of the key); the plain key exists only in the client. Scopes:
``ask`` (``POST /v1/ask``), ``read`` (``GET /v1/documents/{id}``: whole documents), ``ingest``
(add, replace and delete documents; it implies ``read``, so a key configured before ``read``
existed keeps every route it had except reading documents with an ask-only key). With no keys
configured every request is allowed (loopback only).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from ..errors import ConfigError

SCOPES: tuple[str, ...] = ("ask", "ingest", "read")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def hash_key(key: str) -> str:
    """The sha256 hex digest stored in the configuration for an API key."""
    if not isinstance(key, str) or len(key) < 16:
        raise ConfigError("an API key must be a string of at least 16 characters; generate one with `python -c 'import secrets; print(secrets.token_urlsafe(32))'`")
    if not key.isascii() or not key.isprintable() or key != key.strip():
        bad = next((c for c in key if not (c.isascii() and c.isprintable())), " ")
        raise ConfigError(
            f"an API key must be printable ASCII without spaces at either end (it has {bad!r}): HTTP clients send "
            "other characters in different encodings, so the key would never match; generate one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
        )
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ApiKey:
    """A configured key: its name (for logs and the audit log), sha256 hex digest, and scopes."""

    name: str
    sha256: str
    scopes: tuple[str, ...] = ("ask",)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"api key name={self.name!r} is not valid; give every key a non-empty name")
        if not isinstance(self.sha256, str) or not _HEX64.match(self.sha256):
            raise ConfigError(f"api key {self.name!r}: sha256={self.sha256!r} is not a sha256 hex digest; store `groundqa serve --hash-key KEY`, never the key itself")
        scopes = tuple(self.scopes)
        bad = [s for s in scopes if s not in SCOPES]
        if bad or not scopes:
            raise ConfigError(f"api key {self.name!r}: scopes={list(scopes)!r} is not valid; choose from: {', '.join(SCOPES)}")
        if "ingest" in scopes and "read" not in scopes:
            scopes += ("read",)  # a key that can replace and delete every document may read them
        object.__setattr__(self, "scopes", scopes)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ApiKey":
        unknown = sorted(set(d) - {"name", "sha256", "scopes"})
        if unknown:
            raise ConfigError(f"[[serve.api_keys]] has unknown key(s) {unknown}; valid: name, sha256, scopes")
        return cls(name=d.get("name", ""), sha256=str(d.get("sha256", "")).lower(), scopes=tuple(d.get("scopes", ("ask",))))


@dataclass(frozen=True)
class ServeSettings:
    """Everything the service needs besides the pipeline. ``api_keys`` empty means no auth, which
    ``groundqa serve`` allows only on a loopback host."""

    index_dir: Path | None = None
    state_dir: Path | None = None
    audit_path: Path | None = None
    api_keys: tuple[ApiKey, ...] = ()
    max_body_bytes: int = 2_000_000
    max_question_chars: int = 1000
    max_top_k: int = 20
    max_documents_per_request: int = 100
    request_timeout_s: float = 120.0
    body_timeout_s: float = 30.0
    header_timeout_s: float = 10.0
    workers: int = 1
    threads: int | str = "auto"
    batch_max: int = 8
    max_pending: int = 64
    batch_wait_ms: float = 5.0
    snapshot_interval_s: float = 30.0
    embedder: str = "minilm-l6"
    public_docs: bool = False
    public_metrics: bool = False

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_question_chars", "max_top_k", "max_documents_per_request", "workers", "batch_max", "max_pending"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ConfigError(f"[serve] {name}={v!r} is not valid; it must be a positive integer")
        for name in ("request_timeout_s", "body_timeout_s", "header_timeout_s", "snapshot_interval_s"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
                raise ConfigError(f"[serve] {name}={v!r} is not valid; it must be a number of seconds > 0")
        for name in ("public_docs", "public_metrics"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"[serve] {name}={getattr(self, name)!r} is not valid; it must be true or false")
        if isinstance(self.batch_wait_ms, bool) or not isinstance(self.batch_wait_ms, (int, float)) or self.batch_wait_ms < 0:
            raise ConfigError(f"[serve] batch_wait_ms={self.batch_wait_ms!r} is not valid; it must be a number of milliseconds >= 0")
        from ..runtime import check_threads

        object.__setattr__(self, "threads", check_threads(self.threads))
        for name in ("index_dir", "state_dir", "audit_path"):
            v = getattr(self, name)
            if v is not None and not isinstance(v, Path):
                object.__setattr__(self, name, Path(v))
        keys = tuple(k if isinstance(k, ApiKey) else ApiKey.from_dict(k) for k in self.api_keys)
        names = [k.name for k in keys]
        if len(set(names)) != len(names):
            raise ConfigError(f"[serve] api key names must be unique; got {names}")
        object.__setattr__(self, "api_keys", keys)

    # -- derived paths --------------------------------------------------------------------------
    def resolved_state_dir(self) -> Path:
        if self.state_dir is not None:
            return self.state_dir
        if self.index_dir is None:
            raise ConfigError("the service needs index_dir or state_dir; pass --index DIR")
        # next to the index, not inside: saving the index replaces its folder
        return self.index_dir.parent / f"{self.index_dir.name}.serve"

    def resolved_audit_path(self) -> Path:
        if self.audit_path is None:
            return self.resolved_state_dir() / "audit.sqlite"
        return self.audit_path if self.audit_path.is_absolute() else self.resolved_state_dir() / self.audit_path

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], **overrides: Any) -> "ServeSettings":
        """From a ``[serve]`` table; ``overrides`` (e.g. ``index_dir``) win over the table."""
        valid = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - valid)
        if unknown:
            raise ConfigError(f"[serve] has unknown key(s) {unknown}; valid keys: {', '.join(sorted(valid))}")
        merged = {**dict(data), **{k: v for k, v in overrides.items() if v is not None}}
        merged["api_keys"] = tuple(merged.get("api_keys", ()))
        return cls(**merged)


def split_config(data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(pipeline sections, [serve] table)`` of a parsed config."""
    data = dict(data)
    serve = data.pop("serve", {}) or {}
    if not isinstance(serve, Mapping):
        raise ConfigError(f"[serve] must be a table, got {serve!r}")
    return data, dict(serve)
