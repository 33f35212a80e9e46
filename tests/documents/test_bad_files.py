"""Issue 15: one bad file never aborts or freezes a load, and links are not followed out of the
folder given. Each case is a fixture built here (no data files needed)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from groundqa.documents import load_documents


def test_markdown_title_padded_with_spaces_loads_fast(tmp_path: Path) -> None:
    # `# a`, 3,000 spaces, `b`: the old title regex backtracked cubically (66 s, holding the GIL)
    (tmp_path / "evil.md").write_text("# a" + " " * 3000 + "b\n\nSome body text.\n" + ("# " + " " * 2000 + "\n") * 3)
    t0 = time.perf_counter()
    res = load_documents(tmp_path)
    assert time.perf_counter() - t0 < 2.0
    assert res.documents[0].metadata["title"] == "a" + " " * 3000 + "b"


@pytest.mark.parametrize(
    "line,title",
    [
        ("# Title", "Title"),
        ("#   Title with spaces   ", "Title with spaces"),
        ("# Title ##", "Title"),
        ("# C#", "C#"),
        ("#\tTabbed", "Tabbed"),
        ("#NoSpace\n# Real", "Real"),
        ("# ##\n# Second", "Second"),
    ],
)
def test_markdown_title_rules(tmp_path: Path, line: str, title: str) -> None:
    (tmp_path / "a.md").write_text(f"{line}\n\nBody.\n")
    assert load_documents(tmp_path / "a.md").documents[0].metadata["title"] == title


def test_deeply_nested_jsonl_line_is_skipped_not_fatal(tmp_path: Path) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    big = "9" * 5000
    lines = [deep, json.dumps({"id": "ok", "text": "A normal record."}), '{"id": "n", "text": "x", "v": ' + big + "}"]
    (tmp_path / "a.jsonl").write_text("\n".join(lines) + "\n")
    res = load_documents(tmp_path)
    assert [d.id for d in res.documents] == ["ok"]
    reasons = {s.source.rsplit("#", 1)[1]: s.reason for s in res.skipped}
    assert "nested too deeply" in reasons["1"]
    assert "invalid JSON" in reasons["3"] and "digits" in reasons["3"]


def test_csv_cell_with_5000_digits_stays_text(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("text,n,m\nhello there," + "1" * 5000 + ",42\n")
    meta = load_documents(tmp_path).documents[0].metadata
    assert meta["n"] == "1" * 5000 and meta["m"] == 42


def test_symlink_loop_and_outside_links_are_reported(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "ok.txt").write_text("hello world")
    (root / "inside.txt").symlink_to(root / "sub" / "ok.txt")
    (root / "loop.md").symlink_to("loop.md")
    (root / "a.md").symlink_to("b.md")
    (root / "b.md").symlink_to("a.md")
    outside = tmp_path / "secret.txt"
    outside.write_text("the password is hunter2")
    (root / "secret.txt").symlink_to(outside)
    (root / "hostname.txt").symlink_to("/etc/hostname")
    (root / "linked").symlink_to(tmp_path, target_is_directory=True)
    res = load_documents(root)
    assert [d.id for d in res.documents] == ["inside.txt"]  # a link inside the folder is read (once)
    assert not any("hunter2" in d.text for d in res.documents)
    why = {Path(s.source).name: s.reason for s in res.skipped}
    assert "loop" in why["loop.md"] and "loop" in why["a.md"] and "loop" in why["b.md"]
    assert "outside the folder" in why["secret.txt"] and "outside the folder" in why["hostname.txt"]
    assert "not followed" in why["linked"]


def test_symlink_named_directly_is_read(tmp_path: Path) -> None:
    target = tmp_path / "real.txt"
    target.write_text("named on purpose")
    (tmp_path / "d").mkdir()
    link = tmp_path / "d" / "link.txt"
    link.symlink_to(target)
    assert load_documents(link).documents[0].text == "named on purpose"


def test_unreadable_subfolder_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "open").mkdir()
    (tmp_path / "open" / "a.txt").write_text("readable")
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "b.txt").write_text("not readable")
    real = os.scandir
    locked = str(tmp_path / "locked")

    def scandir(path: object = ".") -> object:  # the same error os.walk sees without the x permission
        if os.fspath(path) == locked:
            raise PermissionError(13, "Permission denied", locked)
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    res = load_documents(tmp_path)
    assert [d.id for d in res.documents] == ["open/a.txt"]
    assert [(Path(s.source).name, s.reason) for s in res.skipped] == [("locked", "cannot read folder: Permission denied; check its permissions")]
