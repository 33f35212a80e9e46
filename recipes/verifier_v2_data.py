"""Training pairs for the verifier v2 (issue 13): real claim data plus FactCG-style hard negatives.

Sources (only their training parts; licences go into the model card):
* WiCE non-supported-token split, train.jsonl only (374 real Wikipedia claims that their cited page
  supports only partly; ODC-BY). Each claim gives:
    - the claim with its gold evidence sentences: NOT supported (a real hard negative: most of it
      is supported, one part is not);
    - the claim with its unsupported tokens removed, against the same evidence: supported (kept
      only when at least three quarters of the claim's words remain and no broken phrase such as
      "eligible for the." is left);
    - the stripped claim against the page's most word-overlapping non-gold sentences: not supported.
  The WiCE dev claims (the benchmark) are never read.
* FactCG CG2C-Doc (2,068 document/claim pairs over news documents, MIT): the document is the
  evidence (document-level pairs). Documents are split 90/10 by a hash of the text; the 10% is the
  validation file. Every supported claim also yields synthetic hard negatives: a number changed,
  the claim negated, or a name swapped for another name of the same document (groundqa.verify.synth).
* Replay of the shipped model's own data, so that it does not forget it: a sample of SNLI dev+test
  (CC BY-SA 4.0) and of the synthetic SQuAD pairs of the training titles (CC BY-SA 4.0).

    python recipes/verifier_v2_data.py --out runs/verifier_v2/data
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import random
import re
import sys
from collections import Counter
from pathlib import Path

from groundqa.verify.evidence import lexical_rank, windows_from_texts
from groundqa.verify.synth import Pair, names_in, negate, perturb_number, write_jsonl
from groundqa.verify.train import build_training_pairs

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _h(text: str) -> int:
    return int(hashlib.sha1(text.encode()).hexdigest(), 16)


_DANGLING = re.compile(r"(,\s*[.,]|\b(the|a|an|of|for|in|on|at|to|and|or|by|with|from|as)\s*[.,;:]|^\W|^[a-z])")


def wice_pairs(path: Path, rng: random.Random) -> list[Pair]:
    out: list[Pair] = []
    for line in path.open():
        d = json.loads(line)
        sents = d["evidence"]
        gold_sets = [s for s in d["supporting_sentences"] if s]
        if not gold_sets:
            continue
        gold = sorted(set(gold_sets[0]))
        ev = " ".join(sents[i] for i in gold if 0 <= i < len(sents))
        if not ev.strip():
            continue
        claim = d["claim"]
        out.append(Pair(claim, ev, 0, "wice-partial", "wice_train_tokens"))
        toks, flags = d["claim_tokens"], d["non_supported_spans"]
        kept = [t for t, f in zip(toks, flags) if not f]
        words = [t for t in toks if t.isalnum()]
        kept_words = [t for t in kept if t.isalnum()]
        if words and len(kept_words) >= 0.75 * len(words) and len(kept) < len(toks):
            stripped = " ".join(kept)
            for a, b in ((" .", "."), (" ,", ","), (" - ", "-"), (" 's", "'s"), ("( ", "("), (" )", ")"), (" ;", ";"), (" :", ":")):
                stripped = stripped.replace(a, b)
            if _DANGLING.search(stripped):
                continue  # removing the tokens broke the sentence ("eligible for the."): no clean variant
            out.append(Pair(stripped, ev, 1, "wice-stripped", "wice_train_tokens"))
            all_gold = {i for s in gold_sets for i in s}
            others = [i for i in range(len(sents)) if i not in all_gold and len(sents[i].split()) >= 5]
            if others:
                wins = windows_from_texts([sents[i] for i in others], max_sentences=1, pre_split=True)
                top = lexical_rank(stripped, wins, 2)
                if top:
                    out.append(Pair(stripped, " ".join(wins[i].text for i in top), 0, "wice-wrong-sentences", "wice_train_tokens"))
    return out


def factcg_pairs(path: Path, rng: random.Random) -> tuple[list[Pair], list[Pair]]:
    train: list[Pair] = []
    val: list[Pair] = []
    for line in path.open():
        d = json.loads(line)
        doc = d["text_a"]
        claims = d["text_b"]
        if isinstance(claims, str):
            claims = ast.literal_eval(claims)
        label = int(d["orig_label"])
        dest = val if _h(doc) % 10 == 0 else train
        for c in claims:
            dest.append(Pair(c, doc, label, "factcg-doc", "factcg_cg2c"))
            if label == 1 and dest is train:
                doc_names = [n for n in names_in(doc) if n not in c]
                cands = []
                for kind, neg in (("factcg-number", perturb_number(c, rng)), ("factcg-negate", negate(c, rng))):
                    if neg and neg != c:
                        cands.append((kind, neg))
                names = [n for n in names_in(c) if n in doc]
                if names and doc_names:
                    n = rng.choice(names)
                    cands.append(("factcg-name-swap", c.replace(n, rng.choice(doc_names), 1)))
                if cands:
                    kind, neg = rng.choice(cands)
                    train.append(Pair(neg, doc, 0, kind, "factcg_cg2c"))
    return train, val


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="folder for train.jsonl, val.jsonl and data.json")
    ap.add_argument("--shared", default=str(SHARED))
    ap.add_argument("--replay-snli", type=int, default=2000)
    ap.add_argument("--replay-squad", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    shared = Path(args.shared)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    wice = wice_pairs(shared / "nli" / "wice_train_tokens" / "train.jsonl", rng)
    # the benchmark's claims must not be in the training file
    bench = {json.loads(l)["claim"].strip().lower() for l in (shared / "wice_claims" / "claims_binary_dev.jsonl").open()}
    leak = sum(p.claim.strip().lower() in bench for p in wice)
    if leak:
        raise SystemExit(f"{leak} WiCE training claims are also WiCE dev benchmark claims; refusing to build")
    fc_train, fc_val = factcg_pairs(shared / "nli" / "factcg_cg2c" / "CG2C_doc.jsonl", rng)
    old_train, old_val, old_desc = build_training_pairs(shared / "nli" / "snli_esnli", shared / "squad_v1.1_dev" / "dev-v1.1.json", seed=args.seed)
    snli = [p for p in old_train if p.kind.startswith("snli")]
    syn = [p for p in old_train if not p.kind.startswith("snli")]
    rng.shuffle(snli)
    rng.shuffle(syn)
    replay = snli[: args.replay_snli] + syn[: args.replay_squad]
    train = wice + fc_train + replay
    rng.shuffle(train)
    val = fc_val + old_val[:600]
    write_jsonl(train, out / "train.jsonl")
    write_jsonl(val, out / "val.jsonl")
    desc = {
        "sources": {
            "wice_train_tokens": {"pairs": len(wice), "licence": "ODC-BY (WiCE annotations); evidence: sentences of the cited web pages",
                                  "split": "train.jsonl only (WiCE train); WiCE dev/test never read", "kinds": dict(Counter(p.kind for p in wice))},
            "factcg_cg2c": {"pairs": len(fc_train), "licence": "MIT (FactCG, derenlei/FactCG)", "split": "90% of documents by sha1(text) % 10 != 0",
                            "kinds": dict(Counter(p.kind for p in fc_train))},
            "replay-snli": {"pairs": len(snli[: args.replay_snli]), "licence": "CC BY-SA 4.0"},
            "replay-synth-squad": {"pairs": len(syn[: args.replay_squad]), "licence": "CC BY-SA 4.0 (SQuAD v1.1 dev, training titles only)",
                                   "titles": old_desc["sources"].get("synth-squad", {}).get("titles")},
        },
        "train_pairs": len(train),
        "positive_rate": round(sum(p.label for p in train) / len(train), 3),
        "val_pairs": len(val),
        "seed": args.seed,
    }
    (out / "data.json").write_text(json.dumps(desc, indent=2))
    print(json.dumps({k: v for k, v in desc.items()}, indent=1)[:3000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
