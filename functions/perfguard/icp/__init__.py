"""Adapters to the Internet Computer: the ICP agent (canister_status, top-ups) and the metrics gateway."""
