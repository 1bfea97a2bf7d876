"""HTTP routes, one module per resource. Each route resolves the caller and asks `access` before anything."""
