"""The ladder campaign: the plan's models trained in resumable runs.

    campaign/plan.json --plan--> models, parents, phases, schedules
         |
    python -m bls2017.campaign run --hours H
         |  worker processes, one per model that can train now
         v
    worker: photos (decoded, downsampled, cached) --> steps --> checkpoints
         |                     (STATE_DIR, outside the repository)
         +--> campaign/progress.json   steps, hours, losses, validation
         +--> campaign/snapshots/*.npz EMA weights as model files

Modules: `plan` (the plan file), `photos` (the paper's preprocessing and
its cache), `worker` (one model's training), `progress` (the progress file
and ETA), `figures` (the convergence plot), `__main__` (the command).
"""
