"""Webhook capture: PIK's signed events received durably, then loaded into the warehouse.

    settings.py  the [webhooks] settings and each account's secret variable
    spool.py     the spool's segment files: appended and fsynced, scanned, locked
    receiver.py  `webhooks serve`: the aiohttp receiver, its signature check and group commit
    load.py      `webhooks load`: the spool (or a dashboard export) into webhook_events
    register.py  `webhooks register`: an endpoint on PIK, its secret to an owner-only file
    status.py    what `status` shows of the receiver

Nothing is imported here, so that config.py may read the settings without the receiver.
"""
