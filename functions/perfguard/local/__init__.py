"""The local stack: every function in one process, with the in-process bus and a local scheduler."""
