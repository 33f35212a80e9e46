"""Span grounding: answers become passage spans with exact offsets; the generator's confidence."""

from __future__ import annotations

import math

import pytest

from groundqa.generate.grounding import snap_answer

PASSAGES = [
    "The Broncos defeated the Panthers 24-10. The game was played in Santa Clara, California.",
    "Hiroshima Prefecture lies in the Chugoku region of Honshu. Its capital is Hiroshima.",
]


def test_exact_match_keeps_the_passage_text_and_offsets():
    s = snap_answer("santa clara,  california", PASSAGES)
    assert s.snapped and s.exact and s.passage == 1 and s.score == 1.0
    assert PASSAGES[0][s.start : s.end] == s.text == "Santa Clara, California"


def test_a_cut_word_snaps_to_the_whole_passage_words():
    s = snap_answer("Hiroshima Prefect", PASSAGES)  # the invented span
    assert s.snapped and not s.exact and s.passage == 2
    assert s.text == PASSAGES[1][s.start : s.end]
    assert s.text == "Hiroshima Prefecture"


def test_partial_answer_snaps_to_the_best_window():
    s = snap_answer("the Denver Broncos", PASSAGES)
    assert s.snapped and s.text == "Broncos" and s.passage == 1
    assert 0.5 <= s.score < 1.0


def test_cited_passage_is_searched_first():
    two = ["Paris is large.", "Paris is old."]
    assert snap_answer("Paris", two, cited=(2,)).passage == 2
    assert snap_answer("Paris", two).passage == 1


def test_word_edges_are_respected_and_weak_matches_stay_unsnapped():
    s = snap_answer("in", ["within a week"])
    assert not s.snapped
    s = snap_answer("a completely invented answer about rockets", PASSAGES)
    assert not s.snapped and s.passage == 0 and s.text == "a completely invented answer about rockets"
    assert not snap_answer("", PASSAGES).snapped
    assert not snap_answer("Broncos", []).snapped


def test_generator_snaps_and_reports_confidence(tiny_gen):
    g = tiny_gen.generate("Who won?", ["The Broncos won the game."])
    assert set(g.confidence) >= {"lp_mean", "lp_min", "margin_min"}
    assert all(math.isfinite(v) for v in g.confidence.values())
    assert g.confidence["lp_min"] <= g.confidence["lp_mean"] <= 0.0
    assert g.confidence["margin_min"] >= 0.0
    if not g.declined:
        assert "span_score" in g.confidence
        if g.grounding is not None and g.grounding.snapped:
            assert g.text.startswith(g.grounding.text)
            assert g.raw_text  # what the model wrote is kept


def test_ground_off_keeps_the_raw_text(tiny_dir):
    from groundqa.generate.hf import TransformersGenerator

    g = TransformersGenerator(str(tiny_dir), ground="off", max_new_tokens=6, device="cpu")
    out = g.generate("Who won?", ["The Broncos won the game."])
    assert out.grounding is None and out.text == out.raw_text
    with pytest.raises(Exception, match="ground"):
        TransformersGenerator(str(tiny_dir), ground="maybe")


def test_a_snapped_span_never_cuts_markdown_apart():
    """Issue 21: a code span is kept whole, a bracket attached to a word gets its closing one, a
    link label cut by the span is left out, and emphasis marks at the edges are dropped."""
    from groundqa.generate.grounding import snap_answer

    P = ["Install with `pip install httpx[http2]` for HTTP/2.", "Needs Python 3.9+ [sync-support](x.md) only.",
         "Ports **8000** and **8001** are used.", "Call `client.close()` when done, or f(x) later."]
    assert snap_answer("pip install httpx[http2", P).text == "pip install httpx[http2]"
    assert snap_answer("httpx[http2]", P).text == "pip install httpx[http2]"
    assert snap_answer("3.9+ [sync-sup", P).text == "3.9+"
    assert snap_answer("**8000**", P).text == "8000"
    assert snap_answer("client.close", P).text == "client.close()"
    s = snap_answer("f(x", P)
    assert s.text == "f(x)" and P[s.passage - 1][s.start : s.end] == s.text


def test_a_span_that_holds_a_code_span_s_opening_backtick_takes_its_closing_one():
    """Issue 21, eighteenth session: "remove data from `locals" was returned for structlog's "If you
    remove data from `locals`, ...": the span covered the code's text but not its closing backtick.
    A span that reaches past a code span's text on either side now takes the code span whole, with
    its backticks, so answer cleaning reads it as text."""
    from groundqa.generate.grounding import snap_answer
    from groundqa.markdown import clean_answer

    P = ["If you remove data from `locals`, that does not guarantee that it is removed entirely."]
    s = snap_answer("remove data from `locals", P)
    assert s.text == "remove data from `locals`" and P[0][s.start : s.end] == s.text
    assert clean_answer(s.text, P) == "remove data from locals"
    assert snap_answer("locals`, that does not", P).text == "`locals`, that does not"
    assert snap_answer("locals", P).text == "locals"  # inside the code span: its text only
    # the same with a Sphinx role: the role is taken with its code span, and cleaning reads what the page shows
    R = ["Use {class}`~structlog.stdlib.ExtraAdder` to copy extra.", "For a list, check out the {ref}`API documentation <procs>`.",
         "Expand `~/.config` first."]
    for answer, shown in (("~structlog.stdlib.ExtraAdder to copy extra", "structlog.stdlib.ExtraAdder to copy extra"),
                          ("check out the API documentation", "check out the API documentation"), ("Expand ~/.config", "Expand ~/.config")):
        s = snap_answer(answer, R)
        assert s.text.count("`") == 2 and clean_answer(s.text, R) == shown, (answer, s.text)


def test_a_placeholder_s_angle_bracket_is_closed_and_a_comparison_is_left_alone():
    """Issue 21, nineteenth session: attrs' "plugins=<path to file>" was returned as "plugins=<path to
    file", with an unbalanced "<". A placeholder's "<" (before a letter) now gets its ">" when that
    follows on the same line; a "<" that compares (flit_core<4, a < b, <1.27) is not a bracket."""
    from groundqa.generate.grounding import snap_answer

    P = ["Then tell Mypy about your plugin:\n\n```ini\n[mypy]\nplugins=<path to file>\n```",
         "It requires flit_core<4 and urllib3>=1.25.4,<1.27 to build.", "Use it only if a < b holds, or <name unknown."]
    s = snap_answer("plugins=<path to file", P)
    assert s.text == "plugins=<path to file>" and P[s.passage - 1][s.start : s.end] == s.text
    assert snap_answer("flit_core<4", P).text == "flit_core<4"
    assert snap_answer("urllib3>=1.25.4,<1.27", P).text == "urllib3>=1.25.4,<1.27"
    assert snap_answer("a < b", P).text == "a < b"
    assert snap_answer("<name unknown", P).text == "<name unknown"  # no ">" on the line: left as it is


def test_a_snapped_span_closes_the_quote_it_opens():
    from groundqa.generate.grounding import snap_answer

    P = ['In his 1541 hymn "Christ unser Herr zum Jordan kam", Luther wrote.']
    assert snap_answer('1541 hymn "Christ unser Herr zum Jordan kam', P).text == '1541 hymn "Christ unser Herr zum Jordan kam"'
    assert snap_answer('"Christ unser Herr"', P).text == "Christ unser Herr"


def test_a_sphinx_role_keeps_only_what_the_page_shows():
    """Issue 21, seventeenth session: in Markdown written for Sphinx (MyST, as attrs' and structlog's
    docs are) a role's code span holds a ``~``/``!`` prefix or ``label <target>``; the answer is the
    name or the label, without that markup. A plain code span that starts with ``~`` keeps it."""
    from groundqa.generate.grounding import snap_answer

    P = ["Use {class}`~structlog.stdlib.ExtraAdder` to copy extra, or :func:`!attrs.define` for classes.",
         "For a list, check out the {ref}`API documentation <procs>`.", "Expand `~/.config` first."]
    s = snap_answer("~structlog.stdlib.ExtraAdder", P)
    assert s.text == "structlog.stdlib.ExtraAdder" and P[0][s.start : s.end] == s.text
    assert snap_answer("ExtraAdder", P).text == "structlog.stdlib.ExtraAdder"
    assert snap_answer("!attrs.define", P).text == "attrs.define"
    assert snap_answer("API documentation <procs>", P).text == "API documentation"
    assert snap_answer("~/.config", P).text == "~/.config"
