from . import encoders, fusion, heads, moe  # noqa: F401  (registration)
