"""A tiny random-weight causal LM with a small byte-level BPE tokenizer and a ChatML template,
built in memory (no download, no package) and saved once per session."""

from __future__ import annotations

import pytest

CHATML = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a test model.<|im_end|>\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

CORPUS = [
    "Answer the question using only the numbered documents. Reply with a short answer followed by the number",
    "The documents do not contain the answer. Question: Who won the game? Paris is the capital of France.",
    "Denver Broncos defeated the Carolina Panthers [1] [2] [3] in Santa Clara, California, in February.",
    "The Moon orbits the Earth. Water boils at one hundred degrees. When in the Course of human events",
]


def build_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tk.train_from_iterator(CORPUS * 4, trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                  pad_token="<|im_end|>", unk_token="<|endoftext|>")
    tok.chat_template = CHATML
    return tok


def build_model(tok, seed: int = 0):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                      tie_word_embeddings=True, initializer_range=0.5)
    model = LlamaForCausalLM(cfg)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    # random weights would often pick special tokens, which decode to nothing: suppress them so
    # the tests see text (a trained model ends with <|im_end|>; here answers run to max_new_tokens)
    # (and bytes that are not printable ASCII, which decode to replacement characters)
    model.generation_config.suppress_tokens = [
        i for i in range(len(tok))
        if i in tok.all_special_ids or not all(32 <= ord(c) < 127 for c in tok.decode([i])) or not tok.decode([i])
    ]
    return model.eval()


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    """A folder holding the tiny model and tokenizer (loads like any local model)."""
    tok = build_tokenizer()
    model = build_model(tok)
    d = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(d)
    tok.save_pretrained(d)
    return d


@pytest.fixture(scope="session")
def tiny_gen(tiny_dir):
    from groundqa.generate import TransformersGenerator

    g = TransformersGenerator(str(tiny_dir), max_new_tokens=12, batch_size=4, device="cpu")
    g.warm_up()
    return g
