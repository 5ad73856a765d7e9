"""Decoding loops on the engine: autoregressive and speculative (draft/verify rounds replayed from a trace)."""
