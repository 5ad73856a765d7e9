"""Reading a model from a GGUF file's header: its architecture, its shapes and every tensor's own format.

GGUF (llama.cpp's model file, reference/formats.md) is little-endian: magic "GGUF", version (2 or 3), tensor
count, metadata count, the metadata (typed key/values: general.architecture, `<arch>.block_count`, ...), one
info record per tensor (name, dimensions, ggml type, offset), then the tensor data. A model file is gigabytes:
only the header is read, in bounded pieces, never the data, so a truncated file whose header is whole reads
the same. What the header says is taken as the truth: each tensor's format decides its bytes; shapes come from
the metadata and are checked against the tensors.

Refused with one line naming the file: not GGUF, a version other than 2 or 3, a big-endian file, a header that
ends early or holds absurd counts, an architecture not modelled here (mixtures of experts and state-space models
among them), a tensor format specsoc has no size for.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

from simulator.common.errors import InputError
from simulator.hw.dtypes import WEIGHT_FORMATS
from simulator.llm.model import ModelSpec, WeightFormats

MAGIC = b"GGUF"
MAX_COUNT = 1_000_000         # tensors or metadata entries: real files hold hundreds
MAX_ARRAY = 50_000_000        # elements of one metadata array (a tokenizer's merges: ~500 k)
MAX_STRING = 64 * 2**20       # bytes of one string (a chat template: a few KiB)

# ggml type id -> our tensor format (ggml.h's enum ggml_type); sizes in DTYPES equal ggml's block bytes / block
GGML_TYPES = {0: "fp32", 1: "fp16", 2: "q4_0", 3: "q4_1", 6: "q5_0", 7: "q5_1", 8: "q8_0", 10: "q2_k", 11: "q3_k",
              12: "q4_k", 13: "q5_k", 14: "q6_k", 16: "iq2_xxs", 17: "iq2_xs", 18: "iq3_xxs", 19: "iq1_s",
              20: "iq4_nl", 21: "iq3_s", 22: "iq2_s", 23: "iq4_xs", 29: "iq1_m", 30: "bf16", 34: "tq1_0", 35: "tq2_0"}

# llama_ftype (general.file_type) -> our weight format name
FILE_TYPES = {0: "fp32", 1: "fp16", 2: "q4_0", 3: "q4_1", 7: "q8_0", 8: "q5_0", 9: "q5_1", 10: "q2_k",
              11: "q3_k_s", 12: "q3_k_m", 13: "q3_k_l", 14: "q4_k_s", 15: "q4_k_m", 16: "q5_k_s", 17: "q5_k_m",
              18: "q6_k", 19: "iq2_xxs", 20: "iq2_xs", 21: "q2_k_s", 22: "iq3_xs", 23: "iq3_xxs", 24: "iq1_s",
              25: "iq4_nl", 26: "iq3_s", 27: "iq3_m", 28: "iq2_s", 29: "iq2_m", 30: "iq4_xs", 31: "iq1_m",
              32: "bf16", 36: "tq1_0", 37: "tq2_0"}

# general.architecture values modelled, and what each family adds to the dense Llama layer
ARCHITECTURES = ("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3", "phi3")
REFUSED = {"mixture of experts": ("qwen2moe", "qwen3moe", "deepseek", "deepseek2", "dbrx", "grok", "arctic",
                                  "olmoe", "jamba", "mixtral", "llama4", "gpt-oss"),
           "state-space or recurrent layers": ("mamba", "mamba2", "rwkv6", "rwkv7", "rwkv6qwen2", "jamba",
                                               "falcon-h1", "granitehybrid", "plamo2", "lfm2")}

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
MATMUL_TENSORS = {"attn_q": ("q_proj",), "attn_k": ("k_proj",), "attn_v": ("v_proj",), "attn_output": ("o_proj",),
                  "attn_qkv": ("q_proj", "k_proj", "v_proj"), "ffn_gate": ("gate",), "ffn_up": ("up",),
                  "ffn_down": ("down",)}


class _Reader:
    """Bounded little-endian reads from the start of a file; running out of bytes is an InputError."""

    def __init__(self, path: Path, label: str):
        self.file = path.open("rb")
        self.label = label
        self.size = path.stat().st_size

    def left(self) -> int:
        return self.size - self.file.tell()

    def need(self, n: int) -> None:
        """At least n more bytes, or the header ends early (checked before looping over a claimed count)."""
        if n > self.left():
            raise InputError(self.label, "the GGUF header ends early: the file is truncated or not GGUF")

    def take(self, n: int) -> bytes:
        data = self.file.read(n)
        if len(data) != n:
            raise InputError(self.label, "the GGUF header ends early: the file is truncated or not GGUF")
        return data

    def scalar(self, fmt: str):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def count(self, what: str, limit: int) -> int:
        n = self.scalar("<Q")
        if n > limit:
            raise InputError(self.label, f"the GGUF header claims {n:,} {what} (more than {limit:,}): not a model file")
        return n

    def string(self) -> str:
        n = self.count("bytes in a string", MAX_STRING)
        self.need(n)
        raw = self.take(n)
        return raw.decode("utf-8", errors="replace")

    def value(self, kind: int, depth: int = 0):
        """One metadata value; arrays keep only their length and first few elements (a tokenizer is large)."""
        if kind in _SCALARS:
            return self.scalar(_SCALARS[kind])
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY and depth < 2:
            inner = self.scalar("<I")
            n = self.count("array elements", MAX_ARRAY)
            if inner in _SCALARS:                     # fixed-size elements: jump over them
                size = struct.calcsize(_SCALARS[inner])
                self.need(n * size)
                head = [self.value(inner) for _ in range(min(n, 4))]
                self.file.seek((n - len(head)) * size, 1)
                return _Array(n, head)
            self.need(n * 8)                          # every string or array starts with an 8-byte length
            head = [self.value(inner, depth + 1) for _ in range(min(n, 4))]
            for _ in range(n - len(head)):
                self.skip(inner, depth + 1)
            return _Array(n, head)
        raise InputError(self.label, f"unknown GGUF metadata type {kind}")

    def skip(self, kind: int, depth: int) -> None:
        if kind in _SCALARS:
            self.take(struct.calcsize(_SCALARS[kind]))
        elif kind == _STRING:
            n = self.count("bytes in a string", MAX_STRING)
            self.need(n)
            self.file.seek(n, 1)
        else:
            self.value(kind, depth)


class _Array(list):
    """A metadata array: its first elements, and its length."""

    def __init__(self, length: int, head: list):
        super().__init__(head)
        self.length = length


def read_header(path: Path, label: str) -> tuple[dict, dict[str, tuple[tuple[int, ...], int]]]:
    """(metadata, tensors: name -> (dimensions, ggml type id)), read from the header only."""
    r = _Reader(path, label)
    try:
        if r.take(4) != MAGIC:
            raise InputError(label, "not a GGUF file (no GGUF magic)")
        version = r.scalar("<I")
        if version not in (2, 3):
            swapped = struct.unpack(">I", struct.pack("<I", version))[0]
            raise InputError(label, "a big-endian GGUF file: not supported" if swapped in (2, 3) else
                             f"GGUF version {version} is not supported (2 and 3 are)")
        n_tensors = r.count("tensors", MAX_COUNT)
        n_kv = r.count("metadata entries", MAX_COUNT)
        r.need(n_kv * 12 + n_tensors * 28)          # the least each entry and tensor record takes
        meta = {}
        for _ in range(n_kv):
            key = r.string()
            meta[key] = r.value(r.scalar("<I"))
        tensors = {}
        for _ in range(n_tensors):
            name = r.string()
            n_dims = r.scalar("<I")
            if not 1 <= n_dims <= 4:
                raise InputError(label, f"tensor {name[:80]!r} has {n_dims} dimensions")
            dims = tuple(r.scalar("<Q") for _ in range(n_dims))
            kind = r.scalar("<I")
            r.scalar("<Q")                          # its data's offset: never followed
            if name in tensors:
                raise InputError(label, f"tensor {name[:80]!r} is listed twice")
            tensors[name] = (dims, kind)
        return meta, tensors
    finally:
        r.file.close()


def _tensor_format(label: str, name: str, kind: int) -> str:
    fmt = GGML_TYPES.get(kind)
    if fmt is None:
        raise InputError(label, f"tensor {name!r} has ggml type {kind}, a format specsoc has no size for "
                                f"(known: {', '.join(sorted(set(GGML_TYPES.values())))})")
    return fmt


def _number(label: str, meta: dict, key: str, default=None) -> int:
    value = meta.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InputError(label, f"metadata {key}: missing or not a positive whole number ({value!r})")
    return value


def parse_gguf(path: Path, label: str, default_name: str) -> ModelSpec:
    """The model a GGUF file holds, with every tensor's own format (ModelSpec.stored)."""
    meta, tensors = read_header(path, label)
    arch = meta.get("general.architecture")
    if not isinstance(arch, str):
        raise InputError(label, "metadata general.architecture: missing")
    for what, names in REFUSED.items():
        if arch in names:
            raise InputError(label, f"architecture {arch!r} has {what}, which specsoc does not model")
    experts = meta.get(f"{arch}.expert_count", 0)
    if (isinstance(experts, int) and experts > 0) or any("_exps." in t for t in tensors):
        raise InputError(label, f"a mixture of experts ({arch}: expert tensors or {arch}.expert_count), which "
                                "specsoc does not model")
    if arch not in ARCHITECTURES:
        raise InputError(label, f"architecture {arch[:40]!r} is not modelled (known: {', '.join(ARCHITECTURES)})")
    d = _number(label, meta, f"{arch}.embedding_length")
    layers = _number(label, meta, f"{arch}.block_count")
    heads = _number(label, meta, f"{arch}.attention.head_count")
    kv_heads = _number(label, meta, f"{arch}.attention.head_count_kv", heads)
    ff = _number(label, meta, f"{arch}.feed_forward_length")
    if f"{arch}.attention.key_length" not in meta and d % heads:
        raise InputError(label, f"metadata {arch}.attention.key_length: missing, and the embedding length {d} is not "
                                f"a multiple of the {heads} heads")
    head_dim = _number(label, meta, f"{arch}.attention.key_length", d // heads)
    if "token_embd.weight" not in tensors:
        raise InputError(label, "no token_embd.weight tensor")
    embed_dims, embed_kind = tensors["token_embd.weight"]
    vocab = embed_dims[-1] if len(embed_dims) == 2 else 0
    if len(embed_dims) != 2 or embed_dims[0] != d:
        raise InputError(label, f"token_embd.weight has shape {embed_dims}, not [{d}, vocab]")
    tied = "output.weight" not in tensors
    ModelSpec(name=default_name, source=label, hidden_size=d, intermediate_size=ff, num_layers=layers,
              num_heads=heads, num_kv_heads=kv_heads, head_dim=head_dim, vocab_size=vocab,
              tie_word_embeddings=tied).checked(label)        # sizes first: the layers are looped over below
    embedding = _tensor_format(label, "token_embd.weight", embed_kind)
    output = embedding if tied else _tensor_format(label, "output.weight", tensors["output.weight"][1])
    _check_tensors(label, tensors, layers)
    variants: list = []
    per_layer = []
    gates = []
    for i in range(layers):
        fmts = {}
        for short, kinds in MATMUL_TENSORS.items():
            entry = tensors.get(f"blk.{i}.{short}.weight")
            if entry is None:
                continue
            fmt = _tensor_format(label, f"blk.{i}.{short}.weight", entry[1])
            for kind in kinds:
                fmts[kind] = fmt
            if short == "ffn_up" and f"blk.{i}.ffn_gate.weight" not in tensors and entry[0][-1] == 2 * ff:
                fmts["gate"] = fmt                      # gate and up fused in one tensor (Phi-3)
        gates.append("gate" in fmts)
        fmts.setdefault("gate", fmts.get("up", output))
        missing = [k for k in ("q_proj", "k_proj", "v_proj", "o_proj", "up", "down") if k not in fmts]
        if missing:
            raise InputError(label, f"layer {i} lacks the tensors of {', '.join(missing)}")
        layer = tuple((k, fmts[k]) for k in ("q_proj", "k_proj", "v_proj", "o_proj", "gate", "up", "down"))
        if layer not in variants:
            variants.append(layer)
        per_layer.append(variants.index(layer))
    if any(gates) and not all(gates):
        raise InputError(label, f"layer {gates.index(False)} lacks ffn_gate while others have one")
    gated = all(gates)
    _check_shapes(label, tensors, layers, d, ff, heads * head_dim, kv_heads * head_dim, gated)
    stated = meta.get("general.file_type")
    file_type = FILE_TYPES.get(stated) if isinstance(stated, int) and not isinstance(stated, bool) else None
    if file_type not in WEIGHT_FORMATS:           # no file type stated: the format most of its matmuls use
        counts = {}
        for i in per_layer:
            for _kind, fmt in variants[i]:
                counts[fmt] = counts.get(fmt, 0) + 1
        file_type = max(sorted(counts), key=counts.__getitem__)
    name = meta.get("general.name") if isinstance(meta.get("general.name"), str) else default_name
    name = "".join(ch for ch in name if ch.isprintable())[:80] or default_name    # no terminal escapes
    return ModelSpec(name=name, source=label, hidden_size=d, intermediate_size=ff,
                     num_layers=layers, num_heads=heads, num_kv_heads=kv_heads, head_dim=head_dim, vocab_size=vocab,
                     tie_word_embeddings=tied, qkv_bias="blk.0.attn_q.bias" in tensors, gated_mlp=gated,
                     architecture=arch, qk_norm="blk.0.attn_q_norm.weight" in tensors,
                     post_norms="blk.0.post_attention_norm.weight" in tensors,
                     stored=WeightFormats(embedding, output, tuple(variants), tuple(per_layer)),
                     default_weights=file_type).checked(label)


_KNOWN = re.compile(r"blk\.(\d+)\.(attn_(q|k|v|output|qkv)|ffn_(gate|up|down))\.(weight|bias)$"
                    r"|blk\.(\d+)\.(attn_norm|ffn_norm|attn_q_norm|attn_k_norm|post_attention_norm|post_ffw_norm"
                    r"|attn_norm_2|layer_output_norm)\.(weight|bias)$"
                    r"|(token_embd|output|output_norm|token_embd_norm|rope_freqs|rope_factors_(long|short))\.(weight|bias)$")


def _check_tensors(label: str, tensors: dict, layers: int) -> None:
    """Every tensor one specsoc models (or a vector too small to matter), in a layer the metadata counts."""
    for name, (dims, _kind) in tensors.items():
        m = _KNOWN.match(name)
        if m is None:
            size = 1
            for x in dims:
                size *= x
            if len(dims) > 1 and min(dims) > 1:
                raise InputError(label, f"tensor {name[:80]!r} ({' x '.join(map(str, dims))}) is not one specsoc "
                                        "models: its bytes would be left out")
            continue
        layer = m.group(1) or m.group(6)
        if layer is not None and int(layer) >= layers:
            raise InputError(label, f"tensor {name[:80]!r} is in layer {layer}, but block_count is {layers}")


def _check_shapes(label: str, tensors: dict, layers: int, d: int, ff: int, q: int, kv: int, gated: bool) -> None:
    """Each layer's matrices have the shapes the metadata implies (GGUF lists [input, output] dimensions)."""
    want = {"attn_q": (d, q), "attn_k": (d, kv), "attn_v": (d, kv), "attn_output": (q, d), "attn_qkv": (d, q + 2 * kv),
            "ffn_gate": (d, ff), "ffn_up": (d, ff), "ffn_down": (ff, d)}
    for i in range(layers):
        for short, shape in want.items():
            entry = tensors.get(f"blk.{i}.{short}.weight")
            if entry is None:
                continue
            ok = {shape} | ({(d, 2 * ff)} if short == "ffn_up" and gated else set())
            if tuple(entry[0]) not in ok:
                raise InputError(label, f"tensor blk.{i}.{short}.weight has shape {list(entry[0])}, not "
                                        f"{list(shape)} as the metadata implies")
