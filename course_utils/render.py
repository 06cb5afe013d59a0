"""Show an agent acting in a Gymnasium environment as an animation inside a notebook.

Works without a display: frames come from ``render_mode="rgb_array"`` and are turned into a
self-contained JavaScript player by ``matplotlib.animation.Animation.to_jshtml``. The player's
HTML contains random element ids, so a notebook cell that shows one should carry the tag
``nbval-ignore-output``. First used in ``notebooks/00_setup.ipynb``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable

import gymnasium as gym
import numpy as np

Policy = Callable[[Any], Any]
"""A policy maps one observation (e.g. shape ``(4,)`` for CartPole) to one action."""


@dataclass
class RolloutFrames:
    """One rendered episode.

    frames: list of ``T + 1`` arrays of shape ``(H, W, 3)``, dtype ``uint8`` (the first frame
    shows the reset state, one more per step). rewards: ``(T,)`` float array.
    """

    frames: list[np.ndarray] = field(repr=False)
    rewards: np.ndarray
    terminated: bool
    truncated: bool

    @property
    def episode_return(self) -> float:
        """Undiscounted return, the sum of ``rewards``."""
        return float(self.rewards.sum())


def quiet_sdl() -> None:
    """Stop pygame's SDL from printing audio and display errors on headless machines.

    Gymnasium's classic-control renderers call ``pygame.init()``, which also starts audio and
    video; on a server without sound card or display that prints ALSA and ``XDG_RUNTIME_DIR``
    errors into the notebook. The course never plays sound, so the silent audio driver is
    always fine; the dummy video driver is chosen only when no display is available, so that
    ``render_mode="human"`` still opens a window on a desktop. Existing settings are kept.
    """
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")


def _make_env(env_id_or_env: str | gym.Env) -> tuple[gym.Env, bool]:
    """Return an env that renders RGB arrays, and whether we created it (and must close it)."""
    quiet_sdl()
    if isinstance(env_id_or_env, str):
        return gym.make(env_id_or_env, render_mode="rgb_array"), True
    if env_id_or_env.render_mode != "rgb_array":
        raise ValueError(
            "the environment must be created with render_mode='rgb_array' "
            f"(got render_mode={env_id_or_env.render_mode!r})"
        )
    return env_id_or_env, False


def as_policy_fn(policy):
    """Accept a plain ``obs -> action`` function, or a policy network with ``.act(obs_batch)``
    (as in :mod:`course_utils.rl.policies`), which is wrapped to act on one observation."""
    if policy is None or not hasattr(policy, "act"):
        return policy
    import torch

    def act(obs):
        action, _ = policy.act(torch.as_tensor(np.asarray(obs), dtype=torch.float32).unsqueeze(0))
        action = action[0].numpy()
        return int(action) if action.ndim == 0 else action

    return act


def rollout_frames(
    env_id_or_env: str | gym.Env,
    policy: Policy | None = None,
    seed: int = 0,
    max_steps: int = 500,
) -> RolloutFrames:
    """Play one episode and keep every frame.

    ``policy=None`` samples random actions from ``env.action_space`` (seeded with ``seed``, so
    the episode is reproducible). The episode stops when the environment reports
    ``terminated`` or ``truncated``, or after ``max_steps`` steps.
    """
    env, owned = _make_env(env_id_or_env)
    policy = as_policy_fn(policy)
    try:
        obs, _ = env.reset(seed=seed)
        env.action_space.seed(seed)
        frames = [np.asarray(env.render())]
        rewards: list[float] = []
        terminated = truncated = False
        for _ in range(max_steps):
            action = env.action_space.sample() if policy is None else policy(obs)
            obs, reward, terminated, truncated, _ = env.step(action)
            rewards.append(float(reward))
            frames.append(np.asarray(env.render()))
            if terminated or truncated:
                break
    finally:
        if owned:
            env.close()
    return RolloutFrames(frames, np.asarray(rewards, dtype=np.float64), bool(terminated), bool(truncated))


def frames_to_html(frames: list[np.ndarray], fps: int = 30, every: int = 1, title: str = ""):
    """Turn frames of shape ``(H, W, 3)`` into an ``IPython.display.HTML`` player.

    ``every`` keeps one frame in ``every`` (use 2-5 for long episodes to keep the notebook
    small). The figure is closed afterwards so that no static copy is drawn below the player.
    """
    import matplotlib.pyplot as plt
    from IPython.display import HTML
    from matplotlib import animation

    if not frames:
        raise ValueError("no frames to show")
    kept = frames[::every]
    height, width = kept[0].shape[:2]
    dpi = 100
    fig, ax = plt.subplots(figsize=(width / dpi / 1.5, height / dpi / 1.5), dpi=dpi)
    ax.set_axis_off()
    image = ax.imshow(kept[0])
    text = ax.set_title(title, fontsize=9)

    def draw(index: int):
        image.set_data(kept[index])
        return (image, text)

    anim = animation.FuncAnimation(fig, draw, frames=len(kept), interval=1000 * every / fps, blit=True)
    html = anim.to_jshtml(fps=max(1, fps // every), default_mode="once")
    plt.close(fig)
    return HTML(html)


def show_episode(
    env_id_or_env: str | gym.Env,
    policy: Policy | None = None,
    seed: int = 0,
    max_steps: int = 500,
    fps: int = 30,
    every: int = 1,
):
    """Roll out one episode (see :func:`rollout_frames`) and return it as an HTML player.

    The player's title gives the number of steps and the undiscounted return, e.g.
    ``"random policy: 23 steps, return 23.0 (terminated)"`` for a random CartPole agent.
    """
    rollout = rollout_frames(env_id_or_env, policy=policy, seed=seed, max_steps=max_steps)
    who = "random policy" if policy is None else "policy"
    ending = "terminated" if rollout.terminated else "truncated" if rollout.truncated else "stopped"
    title = f"{who}: {len(rollout.rewards)} steps, return {rollout.episode_return:.1f} ({ending})"
    return frames_to_html(rollout.frames, fps=fps, every=every, title=title)
