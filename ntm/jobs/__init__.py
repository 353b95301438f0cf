"""Background training jobs: one OS process per job, one folder per job, state read from disk.

A job is a training run (``ntm.training.Trainer``) started from the app. It runs in its own
process (``python -m ntm.jobs.runner <job_dir>``), writes only into its own folder, and when it
finishes saves its model as a user preset. Pages never hold a job in memory: every view is
rebuilt from the folder, so a reload, a second tab or an app restart sees the same truth.

    <data_dir>/jobs/<job_id>/
        job.json        written by the launcher (``control``, in the app's process): the spec
                        (``RunSpec.to_dict()``, its device too, kept on resume), name, created, the
                        preset to save to, and one entry per launch with the process id and its
                        start time (pid reuse guard)
        log.txt         the process's stdout and stderr, appended at every launch
        exit.json       written by the runner as its last act: launch, exit code, outcome
                        (done | cancelled | interrupted | failed), message, preset path
        status.json, metrics.jsonl, sample.json, checkpoint.json + *.safetensors
                        the run folder of ``ntm.training.Trainer``

Every JSON file is written atomically (``ntm.io``), so a reader never sees half of one.

A job's state is derived, never stored (``job_state``):

    process alive   starting (no status yet) | running | stopping (cancel seen) | saving (preset export)
    process gone    done | cancelled | interrupted | failed   from exit.json of the latest launch;
                    without one (killed, machine stopped): failed if the log ends in a traceback,
                    cancelled if a cancel was asked for, else interrupted. Cancelled and interrupted
                    jobs resume from their checkpoint.

Lifecycle:

    job = start_job(spec, "my-copy")          # validates, refuses beyond the concurrency limit
    cancel_job(job.id)                        # SIGTERM to its process group: checkpoint, "cancelled"
    resume_job(job.id)                        # a new launch with Trainer(resume=True)

No orphans: the runner watches the process that started it (``NTM_EXPLORER_PARENT_PID``); when
that is gone it checkpoints, records "interrupted" and exits.

The package, one concern a module:

    record.py    the Job as read from its folder, and job_state
    control.py   the API: start_job, resume_job, cancel_job, remove_job, list_jobs, get_job, LIMITS
    process.py   launching, the pid-reuse guard, signalling process groups, reaping children
    runner.py    the job's own process; the only module here that imports torch (ntm.training),
                 and the home of the ``NTM_EXPLORER_FAULT`` test hook
    command.py   the ``python -m ntm train`` command equivalent to a job, for its preset

Importing ``ntm.jobs`` does not import torch, so the app's job list and the runner's start stay light.
"""

from .command import spec_command
from .control import (LIMITS, MAX_JOBS_ENV, JobError, active_jobs, cancel_job, check_device, check_limits,
                      check_preset_name, free_preset_name, get_job, list_jobs, max_jobs, remove_job, resume_job,
                      start_job)
from .process import process_start_time, signal_group
from .record import ACTIVE_STATES, LOG_TAIL_LINES, RESUMABLE_STATES, Job, job_state, jobs_dir, log_tail

__all__ = [
    "ACTIVE_STATES", "LIMITS", "LOG_TAIL_LINES", "MAX_JOBS_ENV", "RESUMABLE_STATES", "Job", "JobError",
    "active_jobs", "cancel_job", "check_device", "check_limits", "check_preset_name", "free_preset_name", "get_job",
    "job_state",
    "jobs_dir", "list_jobs", "log_tail", "max_jobs", "process_start_time", "remove_job", "resume_job", "signal_group",
    "spec_command", "start_job",
]
