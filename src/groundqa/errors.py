"""Every error groundqa raises on purpose.

    GroundQAError
    ├── ConfigError            a bad argument or setting (also a ValueError)
    ├── ModelNotFoundError     a model reference that resolves to no weights
    ├── DocumentError          a file that cannot be ingested (binary, empty, too large, ...)
    ├── IndexFormatError       an index directory that is missing, damaged or of another version
    ├── EmbedderMismatchError  an index opened with an embedder other than the one that built it
    ├── GeneratorServerError   an inference server (the openai: generator) that fails or cannot be reached
    └── TrainingDivergedError  a fine-tuning run whose loss or gradient stopped being finite

Each message names the argument or path, echoes the value, and says the fix.
"""

from __future__ import annotations


class GroundQAError(Exception):
    """Base class of every error raised by groundqa."""


class ConfigError(GroundQAError, ValueError):
    """A bad argument, option or configuration value."""


class ModelNotFoundError(GroundQAError):
    """A model reference could not be turned into weights on this machine."""


class DocumentError(GroundQAError):
    """A document or file could not be ingested."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class IndexFormatError(GroundQAError):
    """An index directory is missing, incomplete, or written by another format version."""


class EmbedderMismatchError(GroundQAError):
    """An index was opened with a different embedder than the one it was built with."""


class GeneratorServerError(GroundQAError):
    """An OpenAI-compatible inference server refused a request, failed, or could not be reached
    (after the retries). ``status`` is its HTTP status (None when there was no answer)."""

    def __init__(self, url: str, status: int | None, message: str, fix: str) -> None:
        super().__init__(f"generator server {url}: {message}; {fix}")
        self.url, self.status, self.fix = url, status, fix


class TrainingDivergedError(GroundQAError):
    """A training run hit a non-finite loss or gradient and was stopped before writing a model."""

    def __init__(self, message: str, *, step: int, what: str, checkpoint: str | None) -> None:
        super().__init__(message)
        self.step = step
        self.what = what
        self.checkpoint = checkpoint


def check_choice(name: str, value: object, choices: tuple[str, ...] | list[str]) -> str:
    """Return ``value`` if it is one of ``choices``; otherwise raise a ConfigError that lists them."""
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(
            f"{name}={value!r} is not valid; choose one of: {', '.join(map(str, choices))}"
        )
    return value


def check_positive(name: str, value: object, *, allow_zero: bool = False) -> int | float:
    """Return a positive number, or raise a ConfigError naming the argument."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok and (value > 0 or (allow_zero and value == 0)):
        return value  # type: ignore[return-value]
    bound = ">= 0" if allow_zero else "> 0"
    raise ConfigError(f"{name}={value!r} is not valid; it must be a number {bound}")
