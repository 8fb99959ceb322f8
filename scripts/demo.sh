#!/usr/bin/env bash
# Set up .venv, then run the main job end to end on the self-contained default: a 2×2
# factorial sweep of SimpleCNN (conv 1/4 × ReLU off/on) on synthetic data, with Optuna
# studies in studies.db and every round in MLflow (mlflow.db). Needs no network and no GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m green_ai.train -m net=simplecnn conv=1,4 relu=0,1 \
    dataset=synthetic epochs=2 rounds=2 repetitions=2 \
    dataset.train_samples=2048 dataset.test_samples=512 "$@"
echo "Done. Browse the runs with: .venv/bin/mlflow ui --backend-store-uri sqlite:///mlflow.db"
