"""Hardware: SoC descriptions (processing units, DRAM, interconnect), numeric formats and placements."""
