"""Dataset builders and loaders into the normalised question tables (see ``schema``)."""
