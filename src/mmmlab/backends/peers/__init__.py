"""Other libraries' MMMs behind the backend interface, each an optional extra with its own
environment; their modules import the library only when a model is fitted."""
