"""The HTTP API: Starlette routes that parse, call one service method, and render."""
