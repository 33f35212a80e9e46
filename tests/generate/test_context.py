"""What the generator reads: question windows (exact substrings within a word budget), the cached
prompt prefix (same tokens and log-probabilities as reading every token), grounding offsets in the
whole passage, and the thread count."""

from __future__ import annotations

import pytest

from groundqa.errors import ConfigError
from groundqa.generate.context import question_windows

PASSAGE = (
    "# Genghis Khan\n\nGenghis Khan was the founder of the Mongol Empire. Genghis Khan came to power by uniting "
    "many of the nomadic tribes of Northeast Asia. After founding the empire Genghis Khan launched invasions in "
    "every direction. Before Genghis Khan died, he assigned his successor. He died in 1227 after defeating the "
    "Western Xia. His descendants extended the empire across most of Eurasia by conquering many states."
)


def test_window_holds_the_sentence_that_answers_and_is_an_exact_substring():
    [w] = question_windows("What year did Genghis Khan die?", [PASSAGE], max_words=30)
    assert "1227" in w.text
    assert PASSAGE[w.start : w.end] == w.text
    assert len(w.text.split()) <= 30


def test_topic_words_of_the_passage_do_not_pick_the_window():
    # "genghis khan" is in nearly every sentence; "die" in two: those decide
    [w] = question_windows("When did Genghis Khan die?", [PASSAGE], max_words=12)
    assert "died" in w.text


def test_short_passages_are_shown_whole_and_long_sentences_are_cut_around_the_match():
    short = "Paris is the capital of France."
    long_sentence = " ".join(f"w{i}" for i in range(100)) + " the port of Kaffa in the Crimea " + " ".join(f"v{i}" for i in range(100)) + "."
    ws = question_windows("Where is Kaffa?", [short, long_sentence], max_words=20)
    assert ws[0].text == short and (ws[0].start, ws[0].end) == (0, len(short))
    assert "Kaffa" in ws[1].text and len(ws[1].text.split()) <= 20
    assert long_sentence[ws[1].start : ws[1].end] == ws[1].text


def test_a_heading_joins_the_paragraph_under_it():
    doc = "Intro text that is long enough to matter here, about other things entirely.\n\n## Timeouts\n\nThe default is five seconds."
    [w] = question_windows("What is the default for timeouts?", [doc + " " + "filler " * 60], max_words=8)
    assert w.text == "## Timeouts\n\nThe default is five seconds."


def test_bad_budget_is_refused():
    with pytest.raises(ConfigError, match="window words"):
        question_windows("q", ["p"], max_words=0)


def test_context_option_is_checked(tiny_dir):
    from groundqa.generate import TransformersGenerator

    with pytest.raises(ConfigError, match="windows"):
        TransformersGenerator(str(tiny_dir), context="sentences")
    with pytest.raises(ConfigError, match="window_words"):
        TransformersGenerator(str(tiny_dir), window_words=0)
    with pytest.raises(ConfigError, match="threads"):
        TransformersGenerator(str(tiny_dir), threads=0)


def _gen(tiny_dir, **kw):
    from groundqa.generate import TransformersGenerator

    g = TransformersGenerator(str(tiny_dir), max_new_tokens=8, batch_size=4, device="cpu", threads=None, **kw)
    g.warm_up()
    return g


QUESTIONS = ["Who won the game?", "Where is Paris?", "When did the Moon orbit?"]
PASSAGES = [["Denver Broncos defeated the Carolina Panthers in Santa Clara.", "Water boils at one hundred degrees."],
            ["Paris is the capital of France."],
            ["The Moon orbits the Earth.", "When in the Course of human events", "Paris is the capital of France."]]


def test_cached_prefix_gives_the_same_answers_and_logprobs_as_reading_every_token(tiny_dir):
    plain = _gen(tiny_dir, context="chunks", prefix_cache=False).generate_batch(QUESTIONS, PASSAGES)
    g = _gen(tiny_dir, context="chunks", prefix_cache=True)
    cached = g.generate_batch(QUESTIONS, PASSAGES)
    assert g._prefix and len(g._prefix[0]) > 10  # the system text and the instruction
    assert [x.raw_text for x in cached] == [x.raw_text for x in plain]
    for a, b in zip(cached, plain):
        assert a.prompt_tokens == b.prompt_tokens
        for k in ("lp_mean", "lp_min", "margin_min"):
            assert a.confidence[k] == pytest.approx(b.confidence[k], abs=1e-3)
    # reused, not recomputed: the same cache object serves the next batch and one-by-one calls
    first = g._prefix
    again = [g.generate(q, p).raw_text for q, p in zip(QUESTIONS, PASSAGES)]
    assert g._prefix is first and again == [x.raw_text for x in plain]
    assert "".join(g.stream(QUESTIONS[1], PASSAGES[1])).strip() == plain[1].text.strip() or plain[1].grounding is not None


@pytest.mark.parametrize("first", ["Tesla gained experience", "1884 was the year", "# Heading", "`code()` runs", "- item",
                                   "(a) list", "\"Quoted\"", "\u00c9cole", "[x] box", "\u2460 circled"])
def test_real_prompts_start_with_the_cached_prefix(tiny_dir, first):
    # the prefix once ended in a token ("] ") that only the probe prompts had: every real prompt
    # was read whole and the cache was never used
    g = _gen(tiny_dir, context="windows")
    enc, cache = g._inputs([g.prompt("In what year did Tesla emigrate?", [first + " and more words follow here."])])
    assert cache is not None and len(g._prefix[0]) > 10  # the plain path (every token read in the batch) returns None
    assert enc["input_ids"].shape[1] - cache.get_seq_length() == 1


def test_window_prompts_are_shorter_and_grounding_offsets_point_into_the_whole_passage(tiny_dir):
    passage = "Filler sentence about other things here. " * 20 + "Denver Broncos defeated the Carolina Panthers. " + "More filler text about nothing at all. " * 20
    g = _gen(tiny_dir, context="windows", window_words=12)
    chunks = _gen(tiny_dir, context="chunks")
    assert len(g.prompt("Who defeated the Carolina Panthers?", [passage])) < len(chunks.prompt("Who defeated the Carolina Panthers?", [passage])) / 4
    assert "Denver Broncos defeated the Carolina Panthers." in g.prompt("Who defeated the Carolina Panthers?", [passage])
    from groundqa.generate.context import Window

    [w] = g.windows("Who defeated the Carolina Panthers?", [passage])
    text, snap = g._ground("Denver Broncos [1]", [w])
    assert snap.snapped and passage[snap.start : snap.end] == "Denver Broncos" and snap.start > 500
    assert text == "Denver Broncos [1]"
    assert isinstance(w, Window)


def test_threads_from_free_cores_config_and_environment(monkeypatch):
    from groundqa import runtime

    monkeypatch.delenv("GROUNDQA_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(runtime, "usable_cores", lambda: 8)
    assert runtime.choose_threads("auto", load=0.0) == 8
    assert runtime.choose_threads("auto", load=3.1) == 5          # three cores busy elsewhere
    assert runtime.choose_threads("auto", load=20.0) == 1         # never below one
    assert runtime.choose_threads("auto", workers=2, load=0.0) == 4  # split among the service's workers
    assert runtime.choose_threads(3, load=7.0) == 3               # the configuration wins
    assert runtime.choose_threads(None) is None
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert runtime.choose_threads("auto", load=0.0) == 2
    monkeypatch.setenv("GROUNDQA_THREADS", "6")
    assert runtime.choose_threads(3) == 6
    monkeypatch.setenv("GROUNDQA_THREADS", "many")
    with pytest.raises(ConfigError, match="GROUNDQA_THREADS"):
        runtime.choose_threads("auto")
    with pytest.raises(ConfigError, match="threads"):
        runtime.check_threads(-1)


def test_free_cores_count_other_processes_not_this_one(monkeypatch):
    import os

    from groundqa import runtime

    monkeypatch.setattr(runtime, "usable_cores", lambda: 4)
    monkeypatch.setattr(runtime, "others_busy", lambda interval_s=0.25: 1.2)
    assert runtime.free_cores() == 3
    monkeypatch.setattr(runtime, "others_busy", lambda interval_s=0.25: None)  # no /proc/stat: the load average
    monkeypatch.setattr(os, "getloadavg", lambda: (2.0, 0.0, 0.0))
    assert runtime.free_cores() == 2


def test_others_busy_leaves_this_process_out():
    import time

    from groundqa import runtime

    busy = runtime.others_busy(0.1)
    if busy is None:
        pytest.skip("no /proc/stat here")
    assert busy >= 0.0
    t = time.perf_counter()
    while time.perf_counter() - t < 0.05:  # this process's own work before the sample is not load
        pass
    assert runtime.others_busy(0.1) <= busy + 1.0


def test_prompt_cache_reuses_shared_passages_and_reads_exactly_as_reading_every_token(tiny_dir):
    # rows of one batch start from cached prefixes of different lengths (the instruction only, two
    # passages, a whole earlier prompt): answers and log-probabilities stay those of reading it all
    p = ["Denver Broncos defeated the Carolina Panthers in Santa Clara.", "Water boils at one hundred degrees.",
         "Paris is the capital of France."]
    batches = [(["Who won?"], [p[:2]]),
               (["Who won the game?", "Where is Paris?", "What boils?"], [p[:2], [p[2]], p[:3]]),
               (["Who won?"], [p[:2]])]
    plain = _gen(tiny_dir, context="chunks", prefix_cache=False)
    g = _gen(tiny_dir, context="chunks")
    for qs, ps in batches:
        got, want = g.generate_batch(qs, ps), plain.generate_batch(qs, ps)
        assert [x.raw_text for x in got] == [x.raw_text for x in want]
        for a, b in zip(got, want):
            assert a.prompt_tokens == b.prompt_tokens
            for k in ("lp_mean", "lp_min", "margin_min"):
                assert a.confidence[k] == pytest.approx(b.confidence[k], abs=1e-3)
    store = g._prefix[1]
    assert store.hits >= 3 and store.tokens_reused > 20
    before = (store.hits, store.tokens_reused)
    g.generate(batches[0][0][0], batches[0][1][0])  # seen before: nothing but its last token is read again
    row = g.tokenizer(g.prompt(batches[0][0][0], batches[0][1][0]))["input_ids"]
    assert (store.hits, store.tokens_reused) == (before[0] + 1, before[1] + len(row) - 1 - len(g._prefix[0]))
    g.clear_prompt_cache()
    assert not store.entries and store.used == 0 and store.longest(row)[0] == len(g._prefix[0])


def test_prompt_cache_keeps_to_its_budget_and_zero_keeps_only_the_instruction(tiny_dir):
    torch = pytest.importorskip("torch")
    from groundqa.generate.kvcache import PromptCache

    layer = lambda n: [(torch.zeros(1, 2, n, 4), torch.zeros(1, 2, n, 4))]  # noqa: E731  64 bytes a token
    store = PromptCache([1, 2], layer(2), budget_mb=700 / 2**20)  # room for ten tokens
    store.put([1, 2, 3, 4, 5], layer(5))
    store.put([1, 2, 3, 4, 5, 6], layer(6))  # extends the first: replaces it
    assert list(store.entries) == [(1, 2, 3, 4, 5, 6)]
    store.put([1, 2, 7, 8, 9], layer(5))  # 11 tokens > 10: the least recently used goes
    assert list(store.entries) == [(1, 2, 7, 8, 9)]
    assert store.longest([1, 2, 7, 8, 0])[0] == 4 and store.longest([1, 2, 3])[0] == 2
    assert store.longest([1, 2, 7, 8, 9])[0] == 4  # at least one token is left to read

    g = _gen(tiny_dir, context="chunks", prompt_cache_mb=0)
    g.generate_batch(["Who won?", "Who won?"], [["Denver won."], ["Denver won."]])
    assert not g._prefix[1].entries
    from groundqa.errors import ConfigError

    with pytest.raises(ConfigError, match="prompt_cache_mb"):
        _gen(tiny_dir, prompt_cache_mb=-1)


def test_decline_lp_is_how_near_the_model_came_to_declining(tiny_dir):
    g = _gen(tiny_dir, context="chunks", prefix_cache=False)
    gens = g.generate_batch(QUESTIONS, PASSAGES)
    d = g._decline_tokens()
    assert len(d) == 2
    # log P(first token) and log P(first two tokens) after each prompt, read on their own
    ref = g.choice_logprobs_batch(list(zip(QUESTIONS, PASSAGES)), [g._tok.decode(d[:1]), g._tok.decode(d)])
    for x, (one, two) in zip(gens, ref):
        assert two < one <= 0.0
        # exact (both tokens) where the answer opens as the decline does, else the first token's alone
        assert min(abs(x.confidence["decline_lp"] - one), abs(x.confidence["decline_lp"] - two)) < 1e-3


def test_rank_split_shares_the_same_budget_as_one_over_rank():
    from groundqa.generate.context import window_budgets

    assert window_budgets(4, 40) == [40, 40, 40, 40]
    assert window_budgets(4, 40, "rank") == [77, 38, 26, 19]
    assert abs(sum(window_budgets(4, 40, "rank")) - 160) <= 2
    assert window_budgets(1, 40, "rank") == [40] and window_budgets(0, 40, "rank") == []
    assert min(window_budgets(8, 1, "rank")) == 1
    with pytest.raises(ConfigError, match="window_split='ranked' is not valid; use 'even'"):
        window_budgets(4, 40, "ranked")


def test_rank_split_shows_more_of_the_first_passage_and_less_of_the_last():
    first = ("Filler about other things entirely here now. " * 6 + "The timeout setting is read at start-up. "
             + "Other words that say nothing of use. " * 3 + "Its default is five seconds. " + "More filler text here. " * 8)
    q = "What is the default timeout setting?"
    [even] = question_windows(q, [first], max_words=40)
    ws = question_windows(q, [first, first, first, first], max_words=40, split="rank")
    assert [len(w.text.split()) <= b for w, b in zip(ws, (77, 38, 26, 19))] == [True] * 4
    assert len(ws[0].text.split()) > len(even.text.split()) > len(ws[3].text.split())
    assert "five seconds" in ws[0].text and "five seconds" not in even.text
    assert all(first[w.start : w.end] == w.text for w in ws)


def test_window_split_option_is_checked(tiny_dir):
    from groundqa.generate import TransformersGenerator
    from groundqa.generate.openai_server import OpenAIServerGenerator

    with pytest.raises(ConfigError, match="window_split='harmonic' is not valid.*'auto'"):
        TransformersGenerator(str(tiny_dir), window_split="harmonic")
    with pytest.raises(ConfigError, match="window_split"):
        OpenAIServerGenerator("http://127.0.0.1:9/v1", window_split="harmonic")
    assert TransformersGenerator(str(tiny_dir), window_split="rank").identity()["window_split"] == "rank"
    assert OpenAIServerGenerator("http://127.0.0.1:9/v1").window_split == "even"  # a server's model has no card here


def test_auto_split_reads_the_card(tiny_dir, tmp_path):
    import json
    import shutil

    from groundqa.generate import TransformersGenerator

    assert _gen(tiny_dir).window_split == "even"  # no card
    folder = tmp_path / "with-card"
    shutil.copytree(tiny_dir, folder)
    (folder / "groundqa_card.json").write_text(json.dumps({"window_split": "rank"}))
    g = _gen(folder)
    assert g.window_split == "rank" and g.identity()["window_split"] == "rank"
    cold = TransformersGenerator(str(folder))  # read from the card before any weight loads
    assert cold.window_split == "rank" and cold._model is None
    passage = "Filler sentence about other things here. " * 30
    assert [len(w.text.split()) for w in g.windows("q", [passage] * 4)][0] > 40  # the first passage's share
    assert _gen(folder, window_split="even").window_split == "even"  # an explicit split wins
    (folder / "groundqa_card.json").write_text(json.dumps({"window_split": "1/rank"}))
    with pytest.raises(ConfigError, match="window_split='1/rank'; make it one of"):
        _gen(folder)


def test_the_accurate_profile_card_says_rank():
    import json

    from groundqa.generate.profiles import ACCURATE_ADAPTER, DEFAULT_ADAPTER, adapters_dir

    def card(name):
        return json.loads((adapters_dir() / name / "groundqa_card.json").read_text())

    assert card(ACCURATE_ADAPTER)["window_split"] == "rank"
    assert card(DEFAULT_ADAPTER).get("window_split") in (None, "even")  # the default read no better with it (issue 21)
