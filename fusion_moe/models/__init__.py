from . import encoders, fusion, heads, moe  # noqa: F401  (registration)
from . import data_preprocessor, detector  # noqa: F401  (registration)
