"""The chat service as plain functions (no Flask): answering, conversations,
feedback and its export. The HTTP routes in ``application.api`` and the CLI call them."""
