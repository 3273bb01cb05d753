"""The store: InfluxDB writers, the StoreSink around them, the disk spool, the raw frame
archive and the health endpoint.

Entry points: ``store.sink.StoreSink``, ``store.archive.FrameArchive`` /
``ArchiveReader`` / ``list_passes``, ``store.points`` (packet/rejected/event points),
``store.health.HealthServer``. Nothing is imported here, so importing one part stays cheap.
"""
