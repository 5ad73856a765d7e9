"""The `specsoc` command: one module per command; it parses, calls and prints, and models nothing."""
