"""The project's state on disk: the state folder's layout, identity, runtime record, secrets,
lock and atomic writes. Leaf modules: nothing here imports tinyctl's features, plan or targets."""
