"""The explorer: a marimo app where the duality moves under your hands (``dualmaxent explore``).

The app is the marimo notebook :data:`APP_PATH` (``app.py`` in this folder): ``marimo edit`` on
it opens it as a notebook, ``marimo run`` serves it, ``python app.py`` runs it as a script. Its
cells only read the controls and show what :mod:`dualmaxent.explore.model` (the solve) and
:mod:`dualmaxent.explore.views` (tables and figures from the result objects) return.

It needs the ``explore`` extra: ``pip install "dualmaxent[explore]"`` (marimo).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["APP_PATH", "INSTALL_HINT", "require_marimo", "serve_command", "serve", "free_port",
           "PROGRESS_AFTER", "progress"]

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


#: Seconds of work before :func:`progress` shows marimo's spinner.
PROGRESS_AFTER = 1.0


class progress:
    """A context manager for a notebook cell: marimo's spinner (``mo.status.spinner``) appears in
    the cell's output once the block has run :data:`PROGRESS_AFTER` seconds, and goes when it
    ends.

    A slider move takes well under a second and must not flicker a spinner; a solve that takes
    longer (the first one on a data set, a large upload, the bracket of four solvers on big
    data) shows one. A :class:`marimo.Thread` waits for the delay, since the cell's own thread is
    busy; a lock makes sure that it never adds the spinner after the block has ended.
    """

    def __init__(self, title: str, subtitle: str | None = None,
                 after: float | None = None):
        self.title, self.subtitle = title, subtitle
        self.after = PROGRESS_AFTER if after is None else after

    def __enter__(self):
        import threading

        import marimo as mo

        self._lock, self._done, self._shown = threading.Lock(), threading.Event(), []

        def later():
            if self._done.wait(self.after):
                return
            with self._lock:
                if not self._done.is_set():
                    spinner = mo.status.spinner(title=self.title, subtitle=self.subtitle,
                                                remove_on_exit=False)
                    spinner.__enter__()  # appends it to the cell's output
                    self._shown.append(spinner)

        self._thread = mo.Thread(target=later, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        import marimo as mo

        with self._lock:
            self._done.set()
        if self._shown:
            mo.output.clear()  # the cell's own output follows
        return False


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

    Prints one line saying where; opens the browser unless ``headless``. Ctrl+C or SIGTERM
    stops the marimo server with it. Raises
    :class:`~dualmaxent.exceptions.DualMaxentError` (one line) without marimo, for a port out
    of range or taken, or when the server does not come up within ``timeout`` seconds.
    """
    import signal
    import subprocess
    import tempfile
    import threading
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

    def stop(signum, frame):
        raise KeyboardInterrupt  # SIGTERM ends marimo too, as Ctrl+C does (not an orphan)

    on_term = (signal.signal(signal.SIGTERM, stop)
               if threading.current_thread() is threading.main_thread() else None)
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
            if on_term is not None:
                signal.signal(signal.SIGTERM, on_term)
    return 0
