"""The explorer: a marimo app where the duality moves under your hands (``dualmaxent explore``).

The app is the marimo notebook :data:`APP_PATH` (``app.py`` in this folder): ``marimo edit`` on
it opens it as a notebook, ``marimo run`` serves it, ``python app.py`` runs it as a script. Its
cells only read the controls and show what :mod:`dualmaxent.explore.model` (the solve) and
:mod:`dualmaxent.explore.views` (tables and figures from the result objects) return.

It needs the ``explore`` extra: ``pip install "dualmaxent[explore]"`` (marimo).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["APP_PATH", "INSTALL_HINT", "require_marimo", "serve_command", "serve", "free_port"]

#: The notebook file, shipped inside the package.
APP_PATH = Path(__file__).with_name("app.py")

#: What to install when marimo is missing.
INSTALL_HINT = 'pip install "dualmaxent[explore]"'


def require_marimo():
    """Import marimo, or raise :class:`~dualmaxent.exceptions.DualMaxentError` with the
    install command (one line)."""
    from ..exceptions import DualMaxentError

    try:
        import marimo
    except ImportError:
        raise DualMaxentError(f"the explorer needs marimo: {INSTALL_HINT}") from None
    return marimo


def serve_command(port: int, data: str | None = None, target: str | None = None,
                  family: str | None = None) -> list[str]:
    """The ``marimo run`` command line that serves the app on ``127.0.0.1:port`` headless
    (the CLI opens the browser itself, once the server answers)."""
    import sys

    cmd = [sys.executable, "-m", "marimo", "run", str(APP_PATH), "--host", "127.0.0.1",
           "--port", str(port), "--headless", "--no-token", "--no-sandbox"]
    extra = []
    for flag, value in (("--data", data), ("--target", target), ("--family", family)):
        if value:
            extra += [flag, str(value)]
    return cmd + (["--"] + extra if extra else [])


def free_port(start: int = 2718, tries: int = 100) -> int:
    """The first port from ``start`` on which nothing listens on 127.0.0.1."""
    import socket

    from ..exceptions import DualMaxentError

    for port in range(start, start + tries):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise DualMaxentError(f"no free port in {start}..{start + tries - 1}; choose one with --port")


def serve(data: str | None = None, port: int | None = None, headless: bool = False,
          target: str | None = None, family: str | None = None, timeout: float = 60.0) -> int:
    """Serve the app on ``127.0.0.1`` until interrupted; return the exit code (0).

    Prints one line saying where; opens the browser unless ``headless``. Raises
    :class:`~dualmaxent.exceptions.DualMaxentError` (one line) without marimo, for a port out
    of range or taken, or when the server does not come up within ``timeout`` seconds.
    """
    import subprocess
    import tempfile
    import time
    import urllib.request
    import webbrowser

    from ..exceptions import DualMaxentError

    require_marimo()
    if port is None:
        port = free_port()
    elif not 0 < port < 65536:
        raise DualMaxentError(f"--port must be between 1 and 65535; got {port}")
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile(mode="w+") as log:
        proc = subprocess.Popen(serve_command(port, data, target, family),
                                stdout=subprocess.DEVNULL, stderr=log)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    lines = [line.strip() for line in log if line.strip()]
                    raise DualMaxentError(f"marimo stopped (exit code {proc.returncode})"
                                          + (f": {lines[-1]}" if lines else ""))
                try:
                    urllib.request.urlopen(url + "/health", timeout=1.0).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise DualMaxentError(f"the explorer did not start within {timeout:g} s"
                                              f" on {url}") from None
                    time.sleep(0.2)
            print(f"dualmaxent: the explorer is served at {url} (Ctrl+C to stop)", flush=True)
            if not headless:
                webbrowser.open(url)
            proc.wait()
        except KeyboardInterrupt:
            pass
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
    return 0
