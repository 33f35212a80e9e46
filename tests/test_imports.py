"""`import groundqa` must load no heavy library (STYLE.md habit 1), and the public surface is pinned."""

import subprocess
import sys


def test_import_loads_no_torch_faiss_or_transformers():
    code = (
        "import sys, groundqa, groundqa.cli\n"
        "groundqa.cli.build_parser()\n"
        "heavy = [m for m in ('torch', 'faiss', 'transformers', 'sentence_transformers', 'bm25s') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_surface():
    import groundqa

    for name in groundqa.__all__:
        assert getattr(groundqa, name) is not None
