"""Train a small CNN on the 8×8 handwritten digits (scikit-learn's copy, offline); print accuracy and time.

python scripts/train_digits.py --epochs 10
"""

from __future__ import annotations

import argparse
import time

import minitorch_edu as mt
from minitorch_edu import nn
from minitorch_edu.data import load_digits


def make_cnn() -> nn.Module:
    """conv 3×3 (16) → ReLU → max-pool 2 → flatten → linear 256→10: about 2,700 parameters."""
    return nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 10),
    )


def train(epochs: int = 10, seed: int = 0, verbose: int = 0) -> tuple[float, float, nn.Module]:
    """Returns (test accuracy, training seconds, model)."""
    mt.manual_seed(seed)
    (x_train, y_train), (x_test, y_test) = load_digits(seed=seed)
    model = make_cnn()
    model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"], learning_rate=0.01)
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=32, epochs=epochs, verbose=verbose)
    seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(x_test, y_test, batch_size=256)
    return accuracy, seconds, model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=1)
    args = parser.parse_args()
    accuracy, seconds, _ = train(args.epochs, args.seed, args.verbose)
    print(f"digits CNN: test accuracy {accuracy:.1%}, training {seconds:.1f} s ({args.epochs} epochs)")


if __name__ == "__main__":
    main()
