"""Run the service with the fakes in this process (for tests that kill it):
``python -m tests.serve.fake_server INDEX_DIR PORT [SNAPSHOT_INTERVAL_S]``."""

from __future__ import annotations

import sys


def main() -> None:
    import uvicorn

    from groundqa.serve import ServeSettings
    from groundqa.serve.app import create_app
    from tests.serve.conftest import fake_factory

    index_dir, port = sys.argv[1], int(sys.argv[2])
    interval = float(sys.argv[3]) if len(sys.argv) > 3 else 3600.0
    settings = ServeSettings(index_dir=index_dir, embedder="hash", snapshot_interval_s=interval)
    uvicorn.run(create_app(pipeline_factory=fake_factory, settings=settings), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
