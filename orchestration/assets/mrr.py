"""MRR: subscription state -> account MRR by month -> movements -> the waterfall (docs/metrics.md)."""


from orchestration.assets.factory import sql_model_asset
from orchestration.assets.report import CHART_HOOKS
from transforms.pipeline import MRR_MODELS

GROUP = "mrr"

mrr_models = [sql_model_asset(name, GROUP, metadata_hook=CHART_HOOKS.get(name)) for name in MRR_MODELS]
