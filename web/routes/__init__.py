"""The JSON API under /api, one router module per resource (gathered by `web.api`).

Each module declares who may call a route in its signature (`web.deps` aliases such as
`TicketAdmin`), what it answers (`web.responses`), and a summary written for the person
reading `/docs`. The work itself is in `web.actions`, shared with the pages.
"""
