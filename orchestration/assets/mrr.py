"""MRR: subscription state -> account MRR by month -> movements -> the waterfall (SPEC §2-3)."""


from orchestration.assets.factory import sql_model_asset
from transforms.pipeline import MRR_MODELS

GROUP = "mrr"

mrr_models = [sql_model_asset(name, GROUP) for name in MRR_MODELS]
