"""Model cards and validation reports, composed from the registry's, serving's and monitoring's records."""
