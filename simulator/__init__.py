"""specsoc: discrete-event simulation of LLM decoding, plain and speculative, on heterogeneous edge SoCs."""

__version__ = "0.1.0"
