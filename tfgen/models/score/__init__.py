"""The score-based and energy-based families: `ScoreModel` (a
noise-conditional score network), with the score-matching objectives and
Langevin samplers as plain objects (`objectives`, `samplers`); energy
models p(x) = exp(-E(x)) / Z trained by contrastive divergence (`EBM`),
noise-contrastive (`NCE`) and flow-contrastive estimation (`FCE`)."""

from tfgen.models.score.ebm import EBM
from tfgen.models.score.energy import EnergyMLP, EnergyModel
from tfgen.models.score.nce import FCE, NCE
from tfgen.models.score.objectives import (DenoisingScoreMatching, ExactScoreMatching,
                                           SlicedScoreMatching, geometric_sigmas, make_objective)
from tfgen.models.score.score_model import ScoreModel
from tfgen.models.score.samplers import (SAMPLERS, AnnealedLangevin, LangevinDynamics,
                                         PredictorCorrector, make_sampler)

__all__ = ["EBM", "FCE", "NCE", "SAMPLERS", "AnnealedLangevin", "DenoisingScoreMatching",
           "EnergyMLP", "EnergyModel", "ExactScoreMatching", "LangevinDynamics",
           "PredictorCorrector", "ScoreModel", "SlicedScoreMatching", "geometric_sigmas",
           "make_objective", "make_sampler"]
