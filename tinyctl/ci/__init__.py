"""CI/CD: `tinyctl ci run` (the whole pipeline, isolated, always torn down) and `tinyctl ci init` (thin pipeline files)."""
