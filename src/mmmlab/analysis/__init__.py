"""What a fit says: contributions, ROAS/mROAS, response curves."""

from mmmlab.analysis.response import response_curves
from mmmlab.analysis.roas import contributions_frame, roas_draws, roas_table

__all__ = ["contributions_frame", "response_curves", "roas_draws", "roas_table"]
