import subprocess
import sys


def test_import_operando_is_light():
    code = ("import sys, operando, operando.io, operando.noise, operando.metrics, operando.denoise; "
            "heavy = [m for m in ('torch', 'jax') if m in sys.modules]; print(heavy); assert not heavy")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
