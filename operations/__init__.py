"""Acting on the running system, shared by the web app and the CLI.

The Temporal client and payload codec, ticket messages (state query, updates, signals),
batch launch, bulk actions and slot administration live here, so `web/` and `starter/`
both call them and never each other.
"""
