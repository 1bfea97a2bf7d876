"""The AI services process (`python -m jupyter_mlp_gpu`): the assistant's embeddings and vector index.

Its own process, started and stopped by `mlp up` / `mlp down` (`jupyter_mlp.gpu_service`), or reached at
`gpu_url` on a GPU host. It imports the shared core (`jupyter_mlp`) only, never the backend
(`jupyter_mlp_backend`): the backend talks to it over HTTP with a service token, and it reaches platform records
only through the backend's API. Heavy libraries (torch, sentence-transformers, Qdrant) load on first use, never
when the app is imported. See docs/assistant.md.
"""
