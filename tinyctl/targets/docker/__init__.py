"""The Docker engine, as the Compose target (and one-off containers of the local one) use it."""
