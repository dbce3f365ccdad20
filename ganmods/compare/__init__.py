"""Fair comparison of GAN variants: ``ganmods compare -c CONFIG.yaml``.

Variants × seeds under one budget (generator steps, images shown to the critic, or seconds), with the
same networks, data order per seed and evaluation protocol for every run; optionally an equal tuning budget
(``search.trials`` trials per variant from one search space), each variant's trial selected on the validation
reference and reported on the test reference with bootstrap intervals over seeds, paired differences, tied
ranks and the expected best score after k trials; a table (``results.csv``, ``results.md``,
``selected.json``), plots, each run's own logs and checkpoints, and a wandb group. See
:mod:`ganmods.compare.config` for the config format.

Runs on an existing engine: every run (variant, trial, seed) is a trial of the comparison's Optuna study
(:mod:`ganmods.compare.study`; storage: the journal file ``OUT/study.journal`` by default, or ``--storage`` a
shared journal file or a database URL). ``--workers N`` serves the study with N local worker processes (one
GPU each when the machine has N; ``1``, the default, trains in the comparison's own process;
``parallel:``/``--parallel`` are aliases), and ``ganmods compare ... --worker`` joins it from anywhere that sees
the output folder and the storage, e.g. a SLURM job array (``docs/distributed_compare.md``). A worker holds
its run's lock (:class:`~ganmods.compare.lock.RunLock`) for the whole run; a worker killed mid-run (even
``kill -9``) leaves a trial whose lock is free, which the next worker looking for work fails and retries from
scratch (exact: same seed, batches and initial networks), so nothing is lost and nothing runs twice to the end.
``result.json`` in each run's folder stays the source of truth for the reports (:mod:`ganmods.compare.schedule`
serves, :mod:`ganmods.compare.orchestrate` checks, locks and reports).
"""

from ganmods.compare.budget import BUDGET_UNITS, Budget, BudgetStop
from ganmods.compare.cli import compare_main
from ganmods.compare.config import Comparison, EvaluationSettings, SearchSettings, Variant, load_comparison
from ganmods.compare.fairness import Checked, check_runs, direction
from ganmods.compare.orchestrate import ComparisonOutcome, run_comparison, run_worker
from ganmods.compare.plan import RunSpec, Trial, plan_runs, run_config, variant_trials
from ganmods.compare.recorder import RunRecorder
from ganmods.compare.schedule import Interrupted
from ganmods.compare.selection import Selection, TrialScore, select_trials, validation_scores
from ganmods.compare.study import ComparisonStudy, StorageSpec, parse_storage

__all__ = ["BUDGET_UNITS", "Budget", "BudgetStop", "Checked", "Comparison", "ComparisonOutcome", "ComparisonStudy",
           "EvaluationSettings", "Interrupted", "RunRecorder", "RunSpec", "SearchSettings", "Selection", "StorageSpec",
           "Trial", "TrialScore", "Variant", "check_runs", "compare_main", "direction", "load_comparison",
           "parse_storage", "plan_runs", "run_comparison", "run_config", "run_worker", "select_trials",
           "validation_scores", "variant_trials"]
