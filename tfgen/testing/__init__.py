"""Public checks that tfgen's own tests run and users can run too."""

from tfgen.testing.bijector_checks import (
    BijectorCheckError,
    BijectorReport,
    check_bijector,
)

__all__ = ["BijectorCheckError", "BijectorReport", "check_bijector"]
