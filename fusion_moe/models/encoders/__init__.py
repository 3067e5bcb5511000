from . import camera, lidar, radar  # noqa: F401  (registration)
