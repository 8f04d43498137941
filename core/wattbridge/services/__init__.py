"""Services: the operations of the product, shared by the HTTP API, the CLI and embedders."""
