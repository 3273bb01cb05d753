"""The store: InfluxDB writers, the StoreSink around them, the disk spool and the health
endpoint (the raw frame archive is its own part: ``groundwatch.archive``).

Entry points: ``store.sink.StoreSink``, ``store.points`` (packet/rejected/event points),
``store.health.HealthServer``. Nothing is imported here, so importing one part stays cheap.
"""
