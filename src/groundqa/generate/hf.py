"""A transformers generator: causal LMs through their chat template, seq2seq models directly."""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

from ..errors import ConfigError
from ..runtime import apply_threads, check_threads
from ..text import CITATION_OPEN
from .base import Generation, passage_texts
from .context import DEFAULT_WINDOW_WORDS, WINDOW_SPLITS, Window, check_context, check_window_split, check_window_words, ground_in_windows, passage_windows
from .probe import CALIBRATION_FILE, HiddenProbe, HiddenRecorder
from .prompts import PromptTemplate, cut_at_stop, is_decline, parse_citations


class _StopOnStrings:
    """A stopping criterion: a row is done once its generated text holds a stop string or eos, or,
    with ``cited`` (the number of passages each row shows), once it ends in a citation number that
    no further digit could extend (``[3`` of 4 passages): the closing bracket and the end-of-text
    token are then certain and cost two decoding steps, about a quarter of a short answer's
    (:func:`close_citation` adds the bracket)."""

    def __init__(self, tokenizer: Any, prompt_len: int, stop: Sequence[str], eos_ids: set[int],
                 cited: Sequence[int] | None = None) -> None:
        self.tok, self.prompt_len, self.stop, self.eos = tokenizer, prompt_len, [s for s in stop if s], eos_ids
        self.cited = list(cited) if cited is not None else None
        self.done: list[bool] | None = None

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        n = input_ids.shape[0]
        if self.done is None:
            self.done = [False] * n
        for i in range(n):
            if self.done[i]:
                continue
            gen = input_ids[i, self.prompt_len :]
            if len(gen) and int(gen[-1]) in self.eos:
                self.done[i] = True
            elif self.stop or self.cited is not None:
                text = self.tok.decode(gen[-24:], skip_special_tokens=True)
                self.done[i] = any(s in text for s in self.stop) or (self.cited is not None and _complete_citation(text, self.cited[i]))
        return torch.tensor(self.done, dtype=torch.bool, device=input_ids.device)


def _complete_citation(text: str, passages: int) -> bool:
    """``text`` ends in ``[n`` where n names a shown passage and no digit added could (n * 10 > passages)."""
    m = CITATION_OPEN.search(text)
    return bool(m) and 1 <= int(m.group(1)) <= passages < int(m.group(1)) * 10


def close_citation(text: str) -> str:
    """``text`` with the bracket of a citation cut open by the stopping rule closed (``X [1`` -> ``X [1]``)."""
    return text + "]" if CITATION_OPEN.search(text) else text


class TransformersGenerator:
    """Answers from numbered passages with a local transformers model.

    ``model`` is any reference :func:`groundqa.models.resolve_model` accepts (a short name such as
    ``smollm2-135m``, a folder, a hub id), a folder written by ``groundqa finetune`` (full or LoRA),
    or a profile name (``default``, ``fast``, ``accurate``, ``quality``). Loading happens in :meth:`warm_up` or on first use.
    Greedy decoding by default; ``int8`` applies dynamic int8 quantisation on CPU (True or ``"tensor"``,
    or ``"channel"``: one weight scale an output row, closer to fp32); on CUDA the
    weights are bf16 unless ``dtype`` says otherwise. ``ground="snap"`` (the default) replaces a
    short answer by the passage span it stands for (:mod:`groundqa.generate.grounding`), so the
    answer is a substring of a passage and ``Generation.grounding`` holds its offsets; every
    ``Generation`` carries the answer tokens' log-probabilities as ``confidence`` for the guard.
    ``fast_decode`` (float32 on the CPU) gives each linear layer a packed copy of its weight for
    decoding steps (:mod:`groundqa.generate.packed`): steps about twice as fast, the same answers,
    a second copy of the weights in memory; ``fast_decode=False`` keeps one copy.

    ``decline_margin`` (nats): an answer whose ``decline_gap`` (the decline sentence's mean token
    log-probability minus that of what the model wrote, on the same prompt) is above
    ``-decline_margin`` becomes the decline sentence: greedy decoding commits to its first token,
    and a model that would rather have declined, taken as whole sentences, often still answers.
    ``"auto"`` (the default) takes the margin from the adapter's or model folder's card
    (``groundqa_card.json``, ``decline_margin``; the shipped adapter's was chosen on its dev
    articles), None never applies one. Scoring costs one forward pass over the decline sentence's
    ~9 tokens per batch, the prompts read from the prompt cache (measured: 10% to 19% more generation time
    at two threads); ``score_decline=True`` records
    ``confidence["decline_gap"]`` without a margin. :meth:`stream` yields what the model writes;
    ``Pipeline.stream`` asks :meth:`decline_gap` once the answer is complete and declines it as
    ``ask`` would (unless a sentence of it has already gone out).

    ``window_split`` shares the evidence windows' words among the passages
    (:func:`groundqa.generate.context.window_budgets`): ``"even"``, ``"rank"``, or ``"auto"`` (the
    default): the card's ``window_split``, else ``"even"``. The ``accurate`` adapter's card says
    ``"rank"``: measured on its own answers to documentation questions no fit uses (issue 21).
    """

    def __init__(
        self,
        model: str | os.PathLike[str] = "default",
        *,
        adapter: str | os.PathLike[str] | None = None,
        template: PromptTemplate | None = None,
        max_new_tokens: int = 48,
        batch_size: int = 8,
        device: str | None = None,
        dtype: str = "auto",
        int8: bool | str = False,
        do_sample: bool = False,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_prompt_tokens: int = 2048,
        ground: str = "snap",
        context: str = "windows",
        window_words: int = DEFAULT_WINDOW_WORDS,
        window_split: str = "auto",
        prefix_cache: bool = True,
        prompt_cache_mb: float = 256.0,
        threads: int | str | None = "auto",
        stop_at_citation: bool = True,
        fast_decode: bool = True,
        decline_margin: float | str | None = "auto",
        score_decline: bool | None = None,
    ) -> None:
        self._ref = str(model)  # a profile name is resolved in warm_up (importing costs nothing)
        self._adapter = str(adapter) if adapter is not None else None
        self._dtype = dtype
        self.template = template
        if max_new_tokens <= 0:
            raise ConfigError(f"max_new_tokens={max_new_tokens!r} must be > 0")
        if batch_size <= 0:
            raise ConfigError(f"batch_size={batch_size!r} must be > 0")
        self.max_new_tokens, self.batch_size = max_new_tokens, batch_size
        from .loading import int8_scheme  # no model or torch import

        int8_scheme(int8, device)  # a bad value, or int8 on CUDA, fails here, not at the first question
        self.device, self.int8 = device, int8
        self.do_sample, self.temperature, self.top_p = do_sample, temperature, top_p
        self.max_prompt_tokens = max_prompt_tokens
        if ground not in ("snap", "off"):
            raise ConfigError(f"ground={ground!r} is not valid; use 'snap' (answers become passage spans) or 'off'")
        self.ground = ground
        self.context = check_context(context)
        self.window_words = check_window_words(window_words)
        self.window_split = check_window_split(window_split, auto=True)
        if self.window_split == "auto":  # the card's, read now (a JSON file, no weights) so windows() agrees before warm_up
            self.window_split = _card_window_split(self._ref, self._adapter)
        self.prefix_cache = bool(prefix_cache)
        if isinstance(prompt_cache_mb, bool) or not isinstance(prompt_cache_mb, (int, float)) or prompt_cache_mb < 0:
            raise ConfigError(f"prompt_cache_mb={prompt_cache_mb!r} is not valid; give the megabytes of recent prompts' keys and values to keep (0: the instruction only)")
        self.prompt_cache_mb = float(prompt_cache_mb)
        self.stop_at_citation = bool(stop_at_citation)
        self.fast_decode = bool(fast_decode)
        if decline_margin == "none":  # a TOML file has no null
            decline_margin = None
        if not (decline_margin is None or decline_margin == "auto" or _is_margin(decline_margin)):
            raise ConfigError(f"decline_margin={decline_margin!r} is not valid; give a number of nats, 'auto' (the adapter card's) or None / 'none' (never)")
        self._decline_margin_arg = decline_margin
        self.decline_margin: float | None = None if decline_margin == "auto" else decline_margin  # resolved in warm_up
        self.score_decline = score_decline
        self.packed_layers = 0
        self.probe: HiddenProbe | None = None  # the folder's hidden-state probe, resolved in warm_up
        self.threads = check_threads(threads)
        self.name = str(model)
        self._prefix: Any = None  # (token ids, cache) of the text every prompt starts with
        self._prefix_lock = threading.Lock()
        self._model: Any = None
        self._tok: Any = None
        self._seq2seq = False
        self.load_seconds = 0.0

    @classmethod
    def from_model(cls, model: Any, tokenizer: Any, *, name: str = "in-memory", **kwargs: Any) -> "TransformersGenerator":
        """Wrap an already loaded model and tokenizer (tests, the fine-tuning callback)."""
        g = cls.__new__(cls)
        cls.__init__(g, name, **kwargs)  # validates kwargs; nothing is loaded
        g._ref, g._adapter, g.name = name, None, name
        g._model, g._tok = model, tokenizer
        g._seq2seq = bool(getattr(model.config, "is_encoder_decoder", False))
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        if g.template is None:
            g.template = PromptTemplate()
        return g

    # ------------------------------------------------------------------ loading

    def warm_up(self) -> None:
        """Load the model and tokenizer (safe to call twice)."""
        if self._model is not None:
            return
        apply_threads(self.threads)
        from .loading import load_generator_model
        from .profiles import resolve_profile

        ref, prof_adapter, prof_dtype = resolve_profile(self._ref)
        self._ref = ref
        self._adapter = self._adapter if self._adapter is not None else prof_adapter
        self._dtype = prof_dtype if self._dtype == "auto" else self._dtype
        loaded = load_generator_model(self._ref, device=self.device, dtype=self._dtype, int8=self.int8, adapter=self._adapter)
        self._model, self._tok, self._seq2seq = loaded.model, loaded.tokenizer, loaded.is_seq2seq
        if self.fast_decode and not self.int8:
            from .packed import pack_for_decoding

            self.packed_layers = pack_for_decoding(self._model)  # CPU float32 only; else 0
        if loaded.adapter is not None and self._adapter is None:  # an adapter folder was passed as the model
            self._adapter, self._ref = loaded.adapter, loaded.name
        self.load_seconds = loaded.load_seconds
        if self.template is None:
            self.template = _template_for(self._ref, self._adapter)
        if self._decline_margin_arg == "auto":
            margin = _card_value(self._ref, self._adapter, "decline_margin")
            if margin is not None and not _is_margin(margin):
                raise ConfigError(f"the card of {self._adapter or self._ref} has decline_margin={margin!r}; make it a number of nats or remove it")
            self.decline_margin = margin
        if not self._seq2seq:
            self.probe = HiddenProbe.load(self._adapter) or HiddenProbe.load(self._ref)

    @property
    def calibration_path(self) -> Path | None:
        """The guard calibration fitted on this generator's own answers, where its adapter (or model)
        folder ships one (``groundqa_calibration.json``); None before the model is loaded or where
        there is none. ``Pipeline`` hands it to a guard left on its default calibration."""
        if self._model is None:
            return None
        for folder in (self._adapter, self._ref):
            if folder and (Path(folder) / CALIBRATION_FILE).is_file():
                return Path(folder) / CALIBRATION_FILE
        return None

    @property
    def model(self) -> Any:
        self.warm_up()
        return self._model

    @property
    def tokenizer(self) -> Any:
        self.warm_up()
        return self._tok

    def identity(self) -> dict[str, Any]:
        return {"model": self._ref, "adapter": self._adapter, "dtype": self._dtype, "int8": self.int8,
                "max_new_tokens": self.max_new_tokens, "greedy": not self.do_sample, "ground": self.ground,
                "context": self.context, "window_words": self.window_words if self.context == "windows" else None,
                "window_split": self.window_split if self.context == "windows" else None,
                "prefix_cache": self.prefix_cache, "stop_at_citation": self.stop_at_citation, "decline_margin": self.decline_margin}

    # ------------------------------------------------------------------ prompts

    def windows(self, question: str, passages: Sequence[Any]) -> list[Window]:
        """What the model reads of each passage: a window around its best match to the question
        (``context="windows"``) or the whole passage (``"chunks"``); each is ``passage[start:end]``."""
        return passage_windows(question, passage_texts(passages), self.context, self.window_words, self.window_split)

    def prompt(self, question: str, passages: Sequence[Any]) -> str:
        """The prompt for ``question``: the template over what :meth:`windows` shows of each passage."""
        return self._prompt(question, [w.text for w in self.windows(question, passages)])

    def _prompt(self, question: str, texts: list[str]) -> str:
        self.warm_up()
        assert self.template is not None
        if self._seq2seq:
            return self.template.user_message(question, texts)
        return self.template.render(self._tok, question, texts)

    def _special(self) -> bool:
        return not (getattr(self._tok, "chat_template", None) and not self._seq2seq)

    def _prefix_state(self) -> tuple[list[int], Any] | None:
        """The token ids every prompt starts with (the chat template's system part and the
        instruction) and the :class:`~groundqa.generate.kvcache.PromptCache` pinned on them,
        computed once per generator and reused by every question and batch; None where prompts
        share too little or the model is seq2seq."""
        if not self.prefix_cache or self._seq2seq:
            return None
        with self._prefix_lock:
            if self._prefix is None:
                self._prefix = self._compute_prefix() or False
            return self._prefix or None

    def _compute_prefix(self) -> tuple[list[int], Any] | None:
        import torch

        from .kvcache import PromptCache, common_prefix, row_layers

        tok, special = self._tok, self._special()
        # Probe prompts whose first passage starts the way real ones do (a word, a number, a heading,
        # code, punctuation, a non-Latin letter): the prefix is what every one of them shares, less
        # the last shared token, which could merge with what follows it in another prompt. Two
        # probes that both started with an unusual character once made a prefix that ended in a
        # token ("] ") no real prompt has, and every prompt was read whole.
        rows = [tok(self._prompt(q, [p]), add_special_tokens=special)["input_ids"] for q, p in _PREFIX_PROBES]
        n = min(common_prefix(rows[0], r) for r in rows[1:]) - 1
        if n < 4:
            return None
        ids = rows[0][:n]
        with torch.inference_mode():
            out = self._model(input_ids=torch.tensor([ids], device=self._model.device), use_cache=True)
        cache = getattr(out, "cache", None)
        if cache is None:
            cache = getattr(out, "past_key_values", None)
        if cache is None or not hasattr(cache, "layers") or any(getattr(x, "is_sliding", False) for x in cache.layers):
            return None  # the stacking in kvcache assumes full-attention layers
        return ids, PromptCache(ids, row_layers(cache, 0, [(0, n)]), budget_mb=self.prompt_cache_mb)

    def _inputs(self, prompts: list[str]) -> tuple[Any, Any]:
        """Model inputs for ``prompts`` and the cache to start from (None: read every token).

        With the prompt cache, each prompt but its last token is read on its own
        (:meth:`_read_prompt`: from the longest prefix the cache holds, at least the instruction,
        and with no padding), then the rows are stacked as ``[prompt but its last token][masked
        pads][last token]``, positions counted over unmasked tokens only, so that generating reads
        one token per row and every row reads exactly as it would alone. A prompt that does not
        start with the instruction's tokens, or is longer than ``max_prompt_tokens``, sends the
        batch down the plain left-padded path."""
        state = self._prefix_state()
        if state is None:
            return self._encode(prompts), None
        import torch

        from .kvcache import batch_layers, to_cache

        ids0, store = state
        n = len(ids0)
        rows = self._tok(prompts, add_special_tokens=self._special())["input_ids"]
        if not all(self._reads_cached(r, ids0) for r in rows):
            return self._encode(prompts), None
        # one row at a time: measured faster than one padded batch of the rows (8 support-bot
        # prompts of ~146 new tokens: 6.65 s against 7.15 s, the packed kernel reading each)
        width, layers = batch_layers([(len(r) - 1, self._read_prompt(r, store)) for r in rows])
        pad = self._tok.pad_token_id if self._tok.pad_token_id is not None else 0
        dev = self._model.device
        gaps = [width - len(r) + 1 for r in rows]
        input_ids = torch.tensor([r[:-1] + [pad] * g + r[-1:] for r, g in zip(rows, gaps)], device=dev)
        mask = torch.tensor([[1] * (len(r) - 1) + [0] * g + [1] for r, g in zip(rows, gaps)], device=dev)
        return {"input_ids": input_ids, "attention_mask": mask}, to_cache(layers, dev)

    def _reads_cached(self, row: list[int], ids0: list[int]) -> bool:
        """Whether prompt ``row`` goes through the prompt cache: it starts with the instruction's
        tokens ``ids0``, has more after them, and fits ``max_prompt_tokens``."""
        n = len(ids0)
        return n + 1 < len(row) <= self.max_prompt_tokens and row[:n] == ids0

    def clear_prompt_cache(self) -> None:
        """Forget the recent prompts' keys and values (the instruction's stay)."""
        if self._prefix:
            self._prefix[1].clear()

    def _read_prompt(self, row: list[int], store: Any) -> Any:
        """The keys and values of ``row`` but its last token: the longest prefix the prompt cache
        holds, and one forward pass over what follows it (kept in the cache for later prompts)."""
        import torch

        from .kvcache import row_layers, to_cache

        n, layers = store.longest(row)
        end = len(row) - 1
        if n >= end:
            return layers
        dev = self._model.device
        cache = to_cache(layers, dev, n)
        with torch.inference_mode():
            self._model(input_ids=torch.tensor([row[n:end]], device=dev), attention_mask=torch.ones(1, end, dtype=torch.long, device=dev),
                        position_ids=torch.arange(n, end, device=dev).unsqueeze(0), cache=cache, use_cache=True, logits_to_keep=1)
        full = row_layers(cache, 0, [(0, end)])
        if self.prompt_cache_mb > 0:
            store.put(row[:end], full)
        return full

    def _encode(self, prompts: list[str]) -> Any:
        tok = self._tok
        tok.padding_side = "left"
        special = self._special()
        enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=special,
                  truncation=True, max_length=self.max_prompt_tokens)
        return enc.to(self._model.device)

    def _gen_kwargs(self, overrides: dict[str, Any]) -> dict[str, Any]:
        unknown = set(overrides) - {"max_new_tokens", "do_sample", "temperature", "top_p", "stop"}
        if unknown:
            raise ConfigError(
                f"unknown generation override(s) {sorted(unknown)}; use max_new_tokens, do_sample, temperature, top_p, stop"
            )
        do_sample = overrides.get("do_sample", self.do_sample)
        kw: dict[str, Any] = {"max_new_tokens": overrides.get("max_new_tokens", self.max_new_tokens), "do_sample": do_sample,
                              "pad_token_id": self._tok.pad_token_id}
        if do_sample:
            kw["temperature"] = overrides.get("temperature", self.temperature)
            kw["top_p"] = overrides.get("top_p", self.top_p)
        else:
            kw["temperature"], kw["top_p"], kw["top_k"] = None, None, None
        return kw

    def _eos_ids(self) -> set[int]:
        ids = set()
        for t in (self._tok.eos_token_id, getattr(self._model.generation_config, "eos_token_id", None)):
            if isinstance(t, int):
                ids.add(t)
            elif isinstance(t, (list, tuple)):
                ids.update(int(x) for x in t)
        return ids

    # ------------------------------------------------------------------ generation

    def generate(self, question: str, passages: Sequence[Any], **overrides: Any) -> Generation:
        return self.generate_batch([question], [passages], **overrides)[0]

    def generate_batch(self, questions: Sequence[str], passages: Sequence[Sequence[Any]], **overrides: Any) -> list[Generation]:
        if len(questions) != len(passages):
            raise ConfigError(f"generate_batch got {len(questions)} questions but {len(passages)} passage lists; pass one list per question")
        self.warm_up()
        out: list[Generation] = []
        for i in range(0, len(questions), self.batch_size):
            out.extend(self._run_batch(list(questions[i : i + self.batch_size]), list(passages[i : i + self.batch_size]), overrides))
        return out

    def _run_batch(self, questions: list[str], passages: list[Sequence[Any]], overrides: dict[str, Any]) -> list[Generation]:
        import torch
        from transformers import StoppingCriteriaList

        assert self.template is not None
        stop = tuple(overrides.get("stop", self.template.stop))
        shown = [self.windows(q, p) for q, p in zip(questions, passages)]
        prompts = [self._prompt(q, [w.text for w in ws]) for q, ws in zip(questions, shown)]
        enc, cache = self._inputs(prompts)
        plen = 1 if self._seq2seq else enc["input_ids"].shape[1]
        kw = self._gen_kwargs(overrides)
        if cache is not None:
            kw["cache"] = cache
        crit = _StopOnStrings(self._tok, plen, stop, self._eos_ids(),
                              cited=[len(ws) for ws in shown] if self.stop_at_citation else None)
        t0 = time.perf_counter()
        recorder = HiddenRecorder(self._model, self.probe.layer) if self.probe is not None else None
        with torch.inference_mode():
            with recorder if recorder is not None else contextlib.nullcontext():  # the probe's layer, while it writes
                out = self._model.generate(**enc, **kw, stopping_criteria=StoppingCriteriaList([crit]),
                                           output_logits=True, return_dict_in_generate=True)
            seqs = out.sequences
            gen_ids = seqs[:, plen:]
            # per step: the chosen token's log-probability and its margin over the runner-up; and how
            # near the model came to declining, whatever it wrote: log P(the decline sentence's first
            # two tokens), exact where the answer starts with the same token (its second step is
            # read), elsewhere the first token's alone, an upper bound ("The" opens answers too)
            step_lp, step_margin = [], []
            d_ids = self._decline_tokens()
            decline = None
            for t, logits in enumerate(out.logits or ()):
                if t >= gen_ids.shape[1]:
                    break
                logp = torch.log_softmax(logits.float(), dim=-1)
                if t < len(d_ids):
                    d = logp[:, d_ids[t]]
                    decline = d if decline is None else decline + torch.where(gen_ids[:, 0] == d_ids[0], d, torch.zeros_like(d))
                top2 = logp.topk(2, dim=-1).values
                step_lp.append(logp.gather(-1, gen_ids[:, t : t + 1]).squeeze(-1))
                step_margin.append(top2[:, 0] - top2[:, 1])
            lp_rows = torch.stack(step_lp, dim=1).tolist() if step_lp else [[] for _ in questions]
            margin_rows = torch.stack(step_margin, dim=1).tolist() if step_margin else [[] for _ in questions]
            decline_lp = decline.tolist() if decline is not None else [0.0] * len(questions)
        eos, pad = self._eos_ids(), self._tok.pad_token_id
        score = self.score_decline if self.score_decline is not None else self.decline_margin is not None
        decline_mean = self._decline_means(prompts) if score and not self._seq2seq else None
        dt = time.perf_counter() - t0
        results = []
        n_prompt = enc["attention_mask"].sum(dim=1).tolist()
        for i, row in enumerate(gen_ids.tolist()):
            ids = []
            for t in row:
                if t in eos:
                    break
                ids.append(t)
            hit_eos = len(ids) < len(row) and row[len(ids)] in eos
            kept = [k for k, t in enumerate(ids) if pad in eos or t != pad]
            ids = [ids[k] for k in kept]
            text = self._tok.decode(ids, skip_special_tokens=True)
            text, hit_stop = cut_at_stop(text, stop)
            text = text.strip()
            if self.stop_at_citation and not hit_eos and not hit_stop and _complete_citation(text, len(shown[i])):
                text, hit_stop = close_citation(text), True
            declined = is_decline(text, self.template.decline)
            n_answer = self._answer_tokens(ids, text)
            lps = [lp_rows[i][k] for k in kept[:n_answer] if k < len(lp_rows[i])]
            margins = [margin_rows[i][k] for k in kept[:n_answer] if k < len(margin_rows[i])]
            confidence = {"lp_mean": sum(lps) / len(lps) if lps else 0.0, "lp_min": min(lps, default=0.0),
                          "margin_min": min(margins, default=0.0), "decline_lp": decline_lp[i]}
            if recorder is not None and self.probe is not None and not declined:
                h = recorder.states(self.probe.places, i, kept[:n_answer])
                if h is not None:
                    confidence["probe"] = self.probe.score(h)
            raw, snap = text, None
            if decline_mean is not None:
                # how near the model came to declining, as whole sentences: the decline sentence's
                # mean token log-probability against that of everything it wrote (0 for a decline)
                written = [lp_rows[i][k] for k in kept if k < len(lp_rows[i])]
                gap = 0.0 if declined or not written else decline_mean[i] - sum(written) / len(written)
                confidence["decline_gap"] = gap
                if not declined and self.decline_margin is not None and gap > -self.decline_margin:
                    text, declined = self.template.decline, True
            if not declined and self.ground == "snap":
                text, snap = self._ground(text, shown[i])
                confidence["span_score"] = snap.score
            results.append(Generation(
                text=text, citations=parse_citations(text, len(passages[i])), declined=declined,
                tokens=len(ids), prompt_tokens=int(n_prompt[i]), seconds=dt / len(questions), batch_seconds=dt,
                finish_reason="stop" if (hit_eos or hit_stop) else "length", model=self.name,
                timings={"generate_s": dt}, raw_text=raw, grounding=snap, confidence={k: round(v, 5) for k, v in confidence.items()},
            ))
        return results

    def _decline_tokens(self) -> list[int]:
        """The first two tokens of the decline sentence as the model writes it after the prompt."""
        assert self.template is not None
        return [int(t) for t in self._tok(self.template.decline, add_special_tokens=False)["input_ids"][:2]]

    def _decline_means(self, prompts: list[str]) -> list[float]:
        """For each prompt, the mean log-probability of the decline sentence's tokens as the answer
        (teacher-forced)."""
        assert self.template is not None
        return self._continuation_means(prompts, self._tok(self.template.decline, add_special_tokens=False)["input_ids"])

    def _continuation_means(self, prompts: list[str], cont: Sequence[int]) -> list[float]:
        """For each prompt, the mean log-probability of the tokens ``cont`` as the answer. With the
        prompt cache the prompts are not read again (generation put their keys and values there):
        the rows are stacked as :meth:`_inputs` stacks them and one forward pass reads ``cont`` for
        all of them. Otherwise each prompt is read whole with ``cont``."""
        import torch

        from .kvcache import batch_layers, to_cache

        cont = [int(t) for t in cont]
        k = len(cont)
        state = self._prefix_state()
        rows = self._tok(prompts, add_special_tokens=self._special())["input_ids"]
        dev = self._model.device
        target = torch.tensor(cont, device=dev).view(1, k, 1)
        with torch.inference_mode():
            if state is None or not all(self._reads_cached(r, state[0]) for r in rows):
                out = []
                for row in rows:
                    logits = self._model(input_ids=torch.tensor([row + cont[:-1]], device=dev)).logits[:, len(row) - 1 :]
                    out.append(float(torch.log_softmax(logits.float(), dim=-1).gather(-1, target).mean()))
                return out
            width, layers = batch_layers([(len(r) - 1, self._read_prompt(r, state[1])) for r in rows])
            ids = torch.tensor([r[-1:] + cont[:-1] for r in rows], device=dev)
            mask = torch.tensor([[1] * (len(r) - 1) + [0] * (width - len(r) + 1) + [1] * k for r in rows], device=dev)
            pos = torch.tensor([list(range(len(r) - 1, len(r) - 1 + k)) for r in rows], device=dev)
            logits = self._model(input_ids=ids, attention_mask=mask, position_ids=pos, cache=to_cache(layers, dev), use_cache=True).logits
            logp = torch.log_softmax(logits.float(), dim=-1)
            return logp.gather(-1, target.expand(len(rows), k, 1)).squeeze(-1).mean(-1).tolist()

    def decline_gap(self, question: str, passages: Sequence[Any], text: str) -> float:
        """How near the model came to declining instead of writing ``text`` (an answer it streamed):
        the decline sentence's mean token log-probability minus that of ``text``, both read on the
        prompt; 0 for a decline. The citation bracket that ``stop_at_citation`` closes is not read,
        as generation never wrote it: the same number as ``confidence["decline_gap"]``."""
        self.warm_up()
        assert self.template is not None
        text = text.strip()
        if not text or is_decline(text, self.template.decline):
            return 0.0
        if self.stop_at_citation and text.endswith("]") and _complete_citation(text[:-1], len(passages)):
            text = text[:-1]
        prompt = self.prompt(question, passages)
        return self._decline_means([prompt])[0] - self._continuation_means([prompt], self._tok(text, add_special_tokens=False)["input_ids"])[0]

    def _answer_tokens(self, ids: list[int], text: str) -> int:
        """How many of ``ids`` make the answer itself: those before its first citation mark."""
        cut = text.find("[")
        if cut <= 0:
            return len(ids)
        want = text[:cut].strip()
        for k in range(1, len(ids) + 1):
            if len(self._tok.decode(ids[:k], skip_special_tokens=True).strip()) >= len(want):
                return k
        return len(ids)

    @staticmethod
    def _ground(text: str, shown: Sequence[Window]) -> tuple[str, Any]:
        """``text`` grounded in what the model read (:func:`~groundqa.generate.context.ground_in_windows`)."""
        return ground_in_windows(text, shown)

    def choice_logprobs(self, question: str, passages: Sequence[Any], choices: Sequence[str]) -> list[float]:
        """The log-probability of each of ``choices`` as the whole answer to ``question``.

        Closed-form answers (yes/no/maybe, a label, "yes" for a judge) are read this way instead of
        parsing generated text: the sum of the choice tokens' log-probabilities after the prompt (one
        forward pass over the prompt, plus one per choice longer than a token). Causal models only.
        """
        if not choices:
            raise ConfigError("choice_logprobs needs at least one choice")
        self.warm_up()
        if self._seq2seq:
            raise ConfigError(f"choice_logprobs scores causal LMs; {self.name!r} is a seq2seq model")
        # one mechanism for one prompt and many: the batched path, with a batch of one (no padding)
        return self.choice_logprobs_batch([(question, passages)], choices, batch_size=1)[0]

    def choice_logprobs_batch(self, queries: Sequence[tuple[str, Sequence[Any]]], choices: Sequence[str], *,
                              batch_size: int = 8) -> list[list[float]]:
        """:meth:`choice_logprobs` for many (question, passages) at once: prompts of similar length are
        padded on the left into batches; single-token choices (yes / no / a label) are read from one
        forward pass per batch, each longer choice costs one more. A prompt longer than
        ``max_prompt_tokens`` keeps its end, as in :meth:`choice_logprobs`."""
        import torch

        if not choices:
            raise ConfigError("choice_logprobs_batch needs at least one choice")
        if batch_size < 1:
            raise ConfigError(f"batch_size={batch_size!r} is not valid; it must be >= 1")
        self.warm_up()
        if self._seq2seq:
            raise ConfigError(f"choice_logprobs_batch scores causal LMs; {self.name!r} is a seq2seq model")
        tok = self._tok
        encoded = []
        for c in choices:
            c_ids = tok(c, add_special_tokens=False)["input_ids"]
            if not c_ids:
                raise ConfigError(f"choice {c!r} encodes to no tokens; give non-empty choices")
            encoded.append(c_ids)
        special = not getattr(tok, "chat_template", None)
        rows = [tok(self.prompt(q, p), add_special_tokens=special)["input_ids"][-self.max_prompt_tokens:] for q, p in queries]
        order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
        pad = tok.pad_token_id if tok.pad_token_id is not None else 0
        dev = self._model.device

        def forward(seqs: list[list[int]], keep: int) -> Any:
            width = max(len(x) for x in seqs)
            ids = torch.tensor([[pad] * (width - len(x)) + x for x in seqs], device=dev)
            mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in seqs], device=dev)
            pos = (mask.cumsum(-1) - 1).clamp(min=0)
            logits = self._model(input_ids=ids, attention_mask=mask, position_ids=pos, logits_to_keep=keep).logits
            return torch.log_softmax(logits.float(), dim=-1)

        out: list[list[float]] = [[0.0] * len(choices) for _ in rows]
        with torch.inference_mode():
            for s in range(0, len(order), batch_size):
                idx = order[s : s + batch_size]
                first = forward([rows[i] for i in idx], 1)[:, -1]
                for k, c_ids in enumerate(encoded):
                    if len(c_ids) == 1:
                        for j, i in enumerate(idx):
                            out[i][k] = float(first[j, c_ids[0]])
                        continue
                    n = len(c_ids)
                    logp = forward([rows[i] + c_ids for i in idx], n + 1)[:, :-1]  # the positions that predict the choice
                    target = torch.tensor(c_ids, device=dev)
                    sums = logp.gather(-1, target.view(1, n, 1).expand(len(idx), n, 1)).squeeze(-1).sum(-1)
                    for j, i in enumerate(idx):
                        out[i][k] = float(sums[j])
        return out

    def stream(self, question: str, passages: Sequence[Any], **overrides: Any) -> Iterator[str]:
        """Yield the answer's text piece by piece as tokens arrive, stopping at a stop string."""
        import torch
        from transformers import StoppingCriteriaList, TextIteratorStreamer

        self.warm_up()
        assert self.template is not None
        stop = tuple(overrides.get("stop", self.template.stop))
        enc, cache = self._inputs([self.prompt(question, passages)])
        plen = 1 if self._seq2seq else enc["input_ids"].shape[1]
        streamer = TextIteratorStreamer(self._tok, skip_prompt=not self._seq2seq, skip_special_tokens=True)
        crit = _StopOnStrings(self._tok, plen, stop, self._eos_ids(), cited=[len(passages)] if self.stop_at_citation else None)
        kw = self._gen_kwargs(overrides)
        if cache is not None:
            kw["cache"] = cache
        errors: list[BaseException] = []

        def work() -> None:
            try:
                with torch.inference_mode():
                    self._model.generate(**enc, **kw, streamer=streamer, stopping_criteria=StoppingCriteriaList([crit]))
            except BaseException as exc:  # surfaced in the caller's thread below
                errors.append(exc)
                streamer.end()

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        out = ""
        for piece in self._stream_pieces(streamer, stop):
            out += piece
            yield piece
        if self.stop_at_citation and _complete_citation(out.rstrip(), len(passages)):
            yield "]"
        thread.join()
        if errors:
            raise errors[0]

    @staticmethod
    def _stream_pieces(streamer: Any, stop: Sequence[str]) -> Iterator[str]:
        emitted = ""
        buffer = ""
        longest = max((len(s) for s in stop), default=0)
        for piece in streamer:
            buffer += piece
            kept, hit = cut_at_stop(buffer, stop)
            if hit:
                if kept[len(emitted):]:
                    yield kept[len(emitted):].rstrip() if not emitted else kept[len(emitted):]
                emitted = kept
                break
            # hold back what could be the start of a stop string
            safe = len(buffer) - max(0, longest - 1)
            if safe > len(emitted):
                chunk = buffer[len(emitted):safe]
                if not emitted:
                    chunk = chunk.lstrip()
                    if not chunk:
                        continue
                    emitted = buffer[: safe]
                    yield chunk
                else:
                    emitted = buffer[:safe]
                    yield chunk
        else:
            rest = buffer[len(emitted):]
            rest = rest.rstrip()
            if not emitted:
                rest = rest.lstrip()
            if rest:
                yield rest


_PREFIX_PROBES = (("What is it?", "Alpha is a word."), ("Who?", "1999 was a year."), ("Where?", "# Heading\n\nText."),
                  ("How?", "`code()` runs."), ("When?", "(a) list"), ("Which?", "- item"), ("Why?", "\"Quoted\" text"),
                  ("What?", "\u2460 alpha"), ("Who is it?", " leading space"), ("Name?", "\u00c9cole"), ("Q?", "[x] box"))


def _is_margin(value: Any) -> bool:
    """A decline margin: a finite number of nats (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _card_value(ref: str, adapter: str | None, key: str) -> Any:
    """``key`` of the card (``groundqa_card.json``) of the adapter folder, else of the model folder;
    None where neither card has it."""
    import json
    from pathlib import Path

    for folder in (adapter, ref):
        if folder and Path(folder).is_dir() and (Path(folder) / "groundqa_card.json").exists():
            card = json.loads((Path(folder) / "groundqa_card.json").read_text())
            if card.get(key) is not None:
                return card[key]
    return None


def _card_window_split(ref: str, adapter: str | None) -> str:
    """The ``window_split`` of the card of ``adapter``, else of the profile's adapter or the model
    folder ``ref`` names; ``"even"`` where no card has one. Reads JSON only: no weights load."""
    from .profiles import resolve_profile

    ref, prof_adapter, _ = resolve_profile(ref)
    adapter = adapter if adapter is not None else prof_adapter
    split = _card_value(ref, adapter, "window_split") or "even"
    if split not in WINDOW_SPLITS:
        raise ConfigError(f"the card of {adapter or ref} has window_split={split!r}; make it one of {WINDOW_SPLITS} or remove it")
    return split


def _template_for(ref: str, adapter: str | None) -> PromptTemplate:
    """The template a fine-tuned folder was trained with (its card), else the default."""
    template = _card_value(ref, adapter, "template")
    return PromptTemplate.from_dict(template) if template else PromptTemplate()
