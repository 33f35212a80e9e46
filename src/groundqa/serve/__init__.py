"""The HTTP service: ``create_app(pipeline=None, index_dir=..., settings=...)`` (FastAPI).

Needs the ``serve`` extra (``pip install 'groundqa[serve]'``). See ``groundqa.serve.routes`` for the
routes, ``settings`` for limits and API keys, ``store`` for durable ingest, ``audit`` for the
audit log and review loop.
"""

from __future__ import annotations

from typing import Any

from .settings import ApiKey, ServeSettings, hash_key

__all__ = ["ApiKey", "ServeSettings", "create_app", "hash_key"]


def create_app(*args: Any, **kwargs: Any) -> Any:
    from .app import create_app as _create_app

    return _create_app(*args, **kwargs)


create_app.__doc__ = "Build the FastAPI service; see ``groundqa.serve.app.create_app``."
