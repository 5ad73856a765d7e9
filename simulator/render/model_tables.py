"""`specsoc model`: what will be simulated for a model, as rich tables (and the same as a JSON document)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from simulator.llm.formats import Tensor
from simulator.llm.model import ModelSpec


def model_document(model: ModelSpec, weights: str, matrices: list[Tensor], stored_B: float, per_token_B: float) -> dict:
    """Everything `specsoc model` shows, in SI units."""
    by_format: dict[str, dict] = {}
    for t in matrices:
        row = by_format.setdefault(t.format, {"tensors": 0, "parameters": 0, "bytes": 0.0})
        row["tensors"] += 1
        row["parameters"] += t.elements
        row["bytes"] += t.bytes
    layers = [{"layer": i, "formats": {}, "bytes": 0.0} for i in range(model.num_layers)]
    for t in matrices:
        if t.layer is not None:
            layers[t.layer]["formats"][t.kind] = t.format
            layers[t.layer]["bytes"] += t.bytes
    embedding = model.vocab_size * model.hidden_size
    return {"model": model.describe(), "weights": weights, "parameters": model.parameters(),
            "embedding_parameters": embedding, "stored_bytes": stored_B, "bytes_per_decoded_token": per_token_B,
            "by_format": by_format, "layers": layers}


def render_model(console: Console, doc: dict) -> None:
    m = doc["model"]
    features = [name for name, on in (("qkv bias", m["qkv_bias"]), ("q/k norms", m["qk_norm"]),
                                       ("post norms", m["post_norms"]), ("tied embeddings", m["tie_word_embeddings"]))
                if on] + (["gated MLP"] if m["gated_mlp"] else ["GeLU MLP"])
    console.print(f"[bold]{m['name']}[/] ({m['architecture']}) · {m['source']}")
    console.print(f"{m['num_layers']} layers · hidden {m['hidden_size']} · MLP {m['intermediate_size']} · "
                  f"{m['num_heads']} heads / {m['num_kv_heads']} KV heads of {m['head_dim']} · vocab "
                  f"{m['vocab_size']:,} · {', '.join(features)}")
    console.print(f"{doc['parameters'] / 1e9:.3f} B parameters ({doc['embedding_parameters'] / 1e9:.3f} B in the "
                  f"embedding) · weights {doc['weights']}" + (" (as the file stores each tensor)"
                                                              if "stored_formats" in m else ""))
    console.print(f"stored: {doc['stored_bytes'] / 1e9:.3f} GB · read per decoded token: "
                  f"{doc['bytes_per_decoded_token'] / 1e9:.3f} GB (every matrix, one embedding row, norms)")
    table = Table(title="Weight matrices by format", title_justify="left")
    for col in ("format", "tensors", "parameters", "bytes"):
        table.add_column(col, justify="left" if col == "format" else "right")
    for fmt, row in doc["by_format"].items():
        table.add_row(fmt, str(row["tensors"]), f"{row['parameters'] / 1e6:,.1f} M", f"{row['bytes'] / 1e6:,.1f} MB")
    console.print(table)
    layers = Table(title="Per layer (layers storing their matrices alike are grouped)", title_justify="left")
    kinds = list(doc["layers"][0]["formats"]) if doc["layers"] else []
    for col in ("layers", *kinds, "MB per layer"):
        layers.add_column(col, justify="right" if col == "MB per layer" else "left")
    groups: list[tuple[list[int], dict]] = []
    for row in doc["layers"]:
        if groups and groups[-1][1]["formats"] == row["formats"] and groups[-1][0][-1] == row["layer"] - 1:
            groups[-1][0].append(row["layer"])
        else:
            groups.append(([row["layer"]], row))
    for members, row in groups:
        span = str(members[0]) if len(members) == 1 else f"{members[0]}-{members[-1]}"
        layers.add_row(span, *(row["formats"].get(k, "") for k in kinds), f"{row['bytes'] / 1e6:,.1f}")
    console.print(layers)
