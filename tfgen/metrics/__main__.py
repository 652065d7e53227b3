"""`python -m tfgen.metrics`: prints the digits floor of FID, KID and IS
(`tfgen.metrics.digits_floor`) as JSON."""

import json

from tfgen.metrics.digits_floor import digits_floor

print(json.dumps(digits_floor(), indent=2))
