"""`specsoc model`: show what will be simulated for a model file before simulating it."""

from __future__ import annotations

import argparse

from rich.console import Console

from simulator.cli.registry import summary
from simulator.common.output import check_outputs, write_json
from simulator.hw.dtypes import WEIGHT_FORMATS
from simulator.llm.formats import stored_bytes, tensors
from simulator.llm.modelfile import load_model
from simulator.render.model_tables import model_document, render_model
from simulator.run.builder import DEFAULT_WEIGHTS, weight_format

EXAMPLES = """examples:
  specsoc model llama-3.2-3b                        # a bundled model, int8 unless --dtype
  specsoc model llama-3.2-3b --dtype q4_k_m         # as llama.cpp's Q4_K_M stores it
  specsoc model ~/models/Llama-3.2-3B-Instruct-Q4_K_M.gguf --json model.json
  specsoc model path/to/config.json                 # a Hugging Face checkpoint's config
"""


def add_commands(sub) -> None:
    cmd = sub.add_parser("model", help=summary("model"),
                         description="Read a model (bundled name, graphs YAML, Hugging Face config.json or GGUF "
                                     "file: its header only) and show its shapes, parameters, weight formats, bytes "
                                     "per decoded token and per layer: what `specsoc run` would simulate.",
                         epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    cmd.add_argument("model", metavar="MODEL", help="bundled name, graphs YAML, config.json or .gguf file")
    cmd.add_argument("--dtype", choices=WEIGHT_FORMATS, metavar="FORMAT",
                     help="weight format (default: the file's own, else int8); a GGUF file takes only its own")
    cmd.add_argument("--json", metavar="FILE", help="also write it as JSON")


def execute(args, console: Console) -> None:
    check_outputs({"--json": args.json}, (args.model,))
    model = load_model(args.model)
    weights = weight_format(model, args.dtype, DEFAULT_WEIGHTS["target"], "--dtype")
    matrices = tensors(model, weights)
    stored = stored_bytes(model, weights)
    embedding = next(t for t in matrices if t.kind == "embedding")
    per_token = stored - embedding.bytes + embedding.bytes / model.vocab_size
    if model.tie_word_embeddings:
        per_token += embedding.bytes          # the LM head reads the whole (tied) table
    doc = model_document(model, weights, matrices, stored, per_token)
    if args.json:
        write_json(args.json, doc)
    render_model(console, doc)
