"""pik-recon's use cases: one function per command, each returning a typed outcome.

    sync            usecases/sync.py       the webhook spool, then links and transactions
    load_orders     usecases/reconcile.py  an orders export into one account
    reconcile       usecases/reconcile.py  a new reconciliation run per account
    report          usecases/report.py     the finance reports of a period
    export_parquet  usecases/export.py     the tables as a Parquet dataset
    create_links    usecases/links.py      a link per CSV row, exactly once
    list_findings, ack_findings, reopen_findings   usecases/findings.py
    status          usecases/status.py     last runs, freshness, what needs attention

Each takes the Config (scoped to the accounts it names) and returns an Outcome
(usecases/outcome.py): what was done per account, what failed, what needs attention and the
exit code. The command line (pik_recon/cli/) and the job steps (pik_recon/jobs/steps.py)
call these and render what they return; nothing else decides an exit code.
`pik_recon.api` gathers them for a library user.

    from pik_recon.config import load_config
    from pik_recon.usecases.sync import sync

    outcome = sync(load_config())
    print(outcome.exit_code, [r.verdict for run in outcome.runs for r in run.results])
"""
