"""The staff console's pages, one router module per resource (gathered by `web.pages_staff`)."""
