"""Fair comparison of GAN variants: ``ganmods compare -c CONFIG.yaml``.

Variants × seeds under one budget (generator steps, images shown to the critic, or seconds), with the
same networks, data order per seed and evaluation protocol for every run; optionally an equal tuning budget
(``search.trials`` trials per variant from one search space), each variant's trial selected on the validation
reference and reported on the test reference with bootstrap intervals over seeds, paired differences, tied
ranks and the expected best score after k trials; a table (``results.csv``, ``results.md``,
``selected.json``), plots, each run's own logs and checkpoints, and a wandb group. See
:mod:`ganmods.compare.config` for the config format.
"""

from ganmods.compare.budget import BUDGET_UNITS, Budget, BudgetStop
from ganmods.compare.cli import compare_main
from ganmods.compare.config import Comparison, EvaluationSettings, SearchSettings, Variant, load_comparison
from ganmods.compare.fairness import Checked, check_runs, direction
from ganmods.compare.orchestrate import ComparisonOutcome, run_comparison
from ganmods.compare.plan import RunSpec, Trial, plan_runs, run_config, variant_trials
from ganmods.compare.recorder import RunRecorder
from ganmods.compare.schedule import Interrupted
from ganmods.compare.selection import Selection, TrialScore, select_trials, validation_scores

__all__ = ["BUDGET_UNITS", "Budget", "BudgetStop", "Checked", "Comparison", "ComparisonOutcome", "EvaluationSettings",
           "Interrupted", "RunRecorder", "RunSpec", "SearchSettings", "Selection", "Trial", "TrialScore", "Variant",
           "check_runs", "compare_main", "direction", "load_comparison", "plan_runs", "run_comparison", "run_config",
           "select_trials", "validation_scores", "variant_trials"]
