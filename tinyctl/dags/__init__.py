"""DAG files: deploy (check, write, parse, report), watch, parse without a stack, local checks,
plugins/include code sync, one DAG run (`tinyctl run`), the project's pytest in the image."""
