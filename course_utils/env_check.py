"""A short report on the machine a notebook runs on (used by ``notebooks/00_setup.ipynb``).

The report answers the questions that explain most "it works on my machine" surprises:
which versions are installed, whether a GPU is visible, how many threads torch uses (the
thread count changes floating-point sums and therefore learning curves), and whether
Gymnasium can draw frames without a display (needed for the animations of the course).
"""
from __future__ import annotations

import html
import platform
import sys
from dataclasses import dataclass, field

import numpy as np


@dataclass
class EnvironmentReport:
    """Facts about the running Python environment.

    ``versions`` maps a package name to its version string (``"missing"`` when the import
    fails). ``frame`` is one CartPole frame of shape ``(height, width, 3)``, dtype ``uint8``,
    or ``None`` when off-screen rendering failed; ``render_error`` then says why.
    """

    versions: dict[str, str]
    device: str
    cuda_available: bool
    torch_threads: int
    render_ok: bool
    render_error: str = ""
    frame: np.ndarray | None = field(default=None, repr=False)

    def rows(self) -> list[tuple[str, str]]:
        """The report as (label, value) pairs, in display order."""
        rows = [(name, version) for name, version in self.versions.items()]
        rows.append(("device", self.device))
        rows.append(("CUDA available", "yes" if self.cuda_available else "no"))
        rows.append(("torch threads", str(self.torch_threads)))
        if self.render_ok and self.frame is not None:
            height, width, _ = self.frame.shape
            rows.append(("off-screen rendering", f"works ({height}x{width} RGB frame)"))
        else:
            rows.append(("off-screen rendering", f"FAILED: {self.render_error}"))
        return rows

    def __str__(self) -> str:
        width = max(len(label) for label, _ in self.rows())
        return "\n".join(f"{label:<{width}}  {value}" for label, value in self.rows())

    def _repr_html_(self) -> str:
        body = "".join(
            f"<tr><td style='text-align:left'><b>{html.escape(label)}</b></td>"
            f"<td style='text-align:left'>{html.escape(value)}</td></tr>"
            for label, value in self.rows()
        )
        return f"<table>{body}</table>"

    def _repr_pretty_(self, printer, cycle: bool) -> None:  # IPython plain-text display
        printer.text(str(self))


def _version(module_name: str) -> str:
    try:
        module = __import__(module_name)
    except Exception:  # noqa: BLE001 - any import failure means "not usable"
        return "missing"
    return str(getattr(module, "__version__", "unknown"))


def try_render_frame(env_id: str = "CartPole-v1", seed: int = 0) -> tuple[np.ndarray | None, str]:
    """Render the first frame of ``env_id`` off-screen.

    Returns ``(frame, "")`` with ``frame`` of shape ``(H, W, 3)`` on success, or
    ``(None, message)`` when the renderer is unavailable (e.g. pygame missing).
    """
    from course_utils.render import quiet_sdl

    quiet_sdl()
    try:
        import gymnasium as gym

        env = gym.make(env_id, render_mode="rgb_array")
        try:
            env.reset(seed=seed)
            frame = env.render()
        finally:
            env.close()
    except Exception as error:  # noqa: BLE001 - report, do not crash the set-up notebook
        return None, f"{type(error).__name__}: {error}"
    if not isinstance(frame, np.ndarray) or frame.ndim != 3:
        return None, f"unexpected frame {type(frame).__name__}"
    return frame, ""


def environment_report(render: bool = True) -> EnvironmentReport:
    """Collect versions, device, torch thread count and an off-screen rendering test.

    With ``render=False`` the rendering test is skipped (``render_ok`` is then False and
    ``render_error`` says so), which keeps the call fast in unit tests.
    """
    import torch

    versions = {"python": platform.python_version()}
    for name in ("torch", "gymnasium", "numpy", "matplotlib", "ipywidgets"):
        versions[name] = _version(name)
    cuda = bool(torch.cuda.is_available())
    if cuda:
        device = f"cuda ({torch.cuda.get_device_name(0)})"
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        device = "mps (Apple GPU)"
    else:
        device = f"cpu ({platform.machine() or 'unknown architecture'})"
    if render:
        frame, error = try_render_frame()
    else:
        frame, error = None, "skipped"
    return EnvironmentReport(
        versions=versions,
        device=device,
        cuda_available=cuda,
        torch_threads=torch.get_num_threads(),
        render_ok=frame is not None,
        render_error=error,
        frame=frame,
    )


if __name__ == "__main__":  # python -m course_utils.env_check
    print(environment_report())
    sys.exit(0)
