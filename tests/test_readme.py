"""Every Python block in README.md and saved_models/README.md runs as written.

The blocks run in one fresh interpreter (TensorFlow's import is slow), each
in its own namespace, from the repository root, as a user pasting one block
would run it.
"""

import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
READMES = ("README.md", os.path.join("saved_models", "README.md"))

RUNNER = """
import json, sys, traceback
failures = []
for name, block in json.loads(sys.stdin.read()):
    try:
        exec(compile(block, name, "exec"), {"__name__": "__main__"})
    except Exception:
        failures.append(name + ":\\n" + traceback.format_exc(limit=-3))
print(json.dumps(failures))
"""


def python_blocks():
    blocks = []
    for readme in READMES:
        with open(os.path.join(ROOT, readme)) as f:
            found = re.findall(r"^```python\n(.*?)^```", f.read(), re.S | re.M)
        blocks += [(f"{readme} block {i + 1}", block) for i, block in enumerate(found)]
    return blocks


def test_readme_python_blocks_run_as_written():
    blocks = python_blocks()
    assert len(blocks) >= 5  # the parser found the README's blocks
    result = subprocess.run([sys.executable, "-c", RUNNER], input=json.dumps(blocks),
                            capture_output=True, text=True, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    failures = json.loads(result.stdout.strip().splitlines()[-1])
    assert not failures, "\n".join(failures)
