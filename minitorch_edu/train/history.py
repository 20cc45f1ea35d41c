"""`History`: what `fit` returns, per-epoch lists of every logged value, and a plot of them.

history = model.fit(x, y, epochs=10, validation_data=(xv, yv))
history.history["val_accuracy"][-1]
history.plot()          # loss and val_loss in one panel, each metric in its own
"""

from __future__ import annotations

from typing import Any

from .callbacks import Callback


class History(Callback):
    """Records the logs of every epoch, like `keras.callbacks.History`."""

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        # fit() calls can continue one History: keep what is there (as Keras does with initial_epoch)
        pass

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def plot(
        self, keys: list[str] | None = None, figsize: tuple[float, float] | None = None, path: str | None = None
    ) -> Any:
        """One panel per quantity (loss, accuracy, ...), with its `val_` twin dashed; returns the Figure.

        In Jupyter the figure shows inline. In a script it opens a window where matplotlib has a
        display, and `path` saves it (`history.plot(path="history.png")`) where it has none.
        """
        import matplotlib.pyplot as plt

        names = keys or [k for k in self.history if not k.startswith("val_")]
        names += [k[4:] for k in self.history if k.startswith("val_") and k[4:] not in names and keys is None]
        if not names:
            raise ValueError("nothing to plot: the history is empty")
        fig, axes = plt.subplots(1, len(names), figsize=figsize or (4.5 * len(names), 3.5), squeeze=False)
        for ax, name in zip(axes[0], names, strict=True):
            epochs = [e + 1 for e in self.epoch]
            if name in self.history:
                ax.plot(epochs[-len(self.history[name]) :], self.history[name], marker="o", label=f"train {name}")
            if f"val_{name}" in self.history:
                values = self.history[f"val_{name}"]
                ax.plot(epochs[-len(values) :], values, marker="o", linestyle="--", label=f"validation {name}")
            ax.set_xlabel("epoch")
            ax.set_title(name)
            ax.grid(alpha=0.3)
            ax.legend()
        fig.tight_layout()
        _show(fig, path)
        return fig

    def __repr__(self) -> str:
        last = ", ".join(f"{k}={v[-1]:.4g}" for k, v in self.history.items() if v)
        return f"History({len(self.epoch)} epochs: {last})"


def _show(fig: Any, path: str | None) -> None:
    """Save to `path`, or show where a script has a display; Jupyter shows the returned figure itself."""
    import sys
    import warnings

    import matplotlib
    import matplotlib.pyplot as plt

    if path is not None:
        fig.savefig(path, dpi=100)
        print(f"saved the plot to {path}")
    elif _in_jupyter_kernel(sys.modules.get("IPython")):
        return
    elif matplotlib.get_backend().lower() in ("agg", "pdf", "svg", "ps", "cairo", "template"):
        warnings.warn(
            f"history.plot(): matplotlib has no display here (backend {matplotlib.get_backend()}), so nothing "
            "is shown; save the figure instead: history.plot(path='history.png')",
            stacklevel=3,
        )
    else:
        plt.show()


def _in_jupyter_kernel(ipython: Any) -> bool:
    """True inside a running Jupyter kernel (not merely with ipykernel imported, as a test run may have)."""
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"
