"""Project datasets as Iceberg tables (pyiceberg), reached through the backend so projects stay apart."""
