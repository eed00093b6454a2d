"""Predicted churn: features (dbt models), a gradient-boosted model with its backtest, and the two marts
marts.churn_predictions and marts.churn_model_backtest (docs/churn-model.md). Plain Python, no Dagster."""
