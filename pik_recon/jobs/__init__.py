"""Jobs: definitions from jobs/*.toml, the lock, the runner and its history, the steps.

    definition.py  job files read and checked whole: schedule, steps, keys, accounts
    runner.py      run_job: the steps in order under the job's lock, recorded in job_runs
    steps.py       each step calls the use case its command calls (pik_recon.usecases)
    scheduler.py   every job on its trigger with APScheduler, missed runs once at start
"""
