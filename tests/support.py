"""Shared test helpers: a tiny model and a hand-sized SoC whose numbers make every expected value easy to derive."""

from __future__ import annotations

from simulator.hw.placement import Placement
from simulator.hw.socfile import parse_soc
from simulator.llm.model import ModelSpec

# hidden 12, intermediate 20, 2 layers, 3 heads of 2, 1 KV head, vocab 40: qd = 6, kd = 2. Every dimension
# differs from the others (and from the token counts the tests use), so a swapped factor cannot go unseen.
TINY = ModelSpec(name="tiny", source="test", hidden_size=12, intermediate_size=20, num_layers=2, num_heads=3,
                 num_kv_heads=1, head_dim=2, vocab_size=40, tie_word_embeddings=True)

# One CPU cluster "c" of 2 cores at 1 GFLOP/s each for every dtype and op class, 4 GB/s per core, 8 GB/s per
# cluster; one GPU "g" at 1 GFLOP/s with a 6 GB/s cap; DRAM 10 GB/s usable; no overheads unless asked.
HAND_SOC = {
    "name": "hand",
    "cpu_clusters": [{"name": "c", "cores": 2, "clock_ghz": 1.0, "flop_per_cycle": {"fp32": 1, "fp16": 1, "int8": 1},
                      "bandwidth_per_core_gb_s": 4.0, "bandwidth_cluster_gb_s": 8.0, "dispatch_overhead_us": 0,
                      "parallel_efficiency": 1.0, "efficiency": {"matmul": 1, "attention": 1, "elementwise": 1}}],
    "gpus": [{"name": "g", "shader_cores": 1, "clock_ghz": 1.0, "flop_per_cycle": {"fp32": 1, "fp16": 1, "int8": 1},
              "launch_overhead_us": 0, "bandwidth_gb_s": 6.0,
              "efficiency": {"matmul": 1, "attention": 1, "elementwise": 1}}],
    "dram": {"peak_bandwidth_gb_s": 10.0, "achievable_fraction": 1.0},
    "interconnect": {"handoff_latency_us": 0, "shared_memory": True},
}


def hand_soc(**changes):
    """The hand SoC, with top-level sections or cluster/GPU keys overridden: hand_soc(cpu={...}, gpu={...})."""
    import copy
    data = copy.deepcopy(HAND_SOC)
    data["cpu_clusters"][0].update(changes.pop("cpu", {}))
    data["gpus"][0].update(changes.pop("gpu", {}))
    data.update(changes)
    return parse_soc(data, "hand.yaml")


def cpu(soc, cores=1):
    return Placement(soc.pu("c"), tuple(range(cores)))


def gpu(soc):
    return Placement(soc.pu("g"), (0,))
