"""Model registry: registration with lineage, signing, the verified loader, gates."""
