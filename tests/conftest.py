"""Import mmmlab before anything imports JAX, so tests see the same devices a user does."""

import mmmlab  # noqa: F401
