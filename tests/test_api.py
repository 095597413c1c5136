"""The flat public API at the package root resolves, and `import nervp` stays cheap."""

import subprocess
import sys


def test_every_public_name_resolves():
    import nervp

    for name in nervp.__all__:
        assert getattr(nervp, name) is not None, name
    assert set(dir(nervp)) == set(nervp.__all__)


def test_import_nervp_loads_no_torch():
    code = "import sys, nervp, nervp.errors; print('torch' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "False"
