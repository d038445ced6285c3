"""Reports: pure functions over the tidy results table (tables, plots, HTML, CSV/JSON exports)."""
