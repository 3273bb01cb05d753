"""The raw frame archive: every received frame appended before decoding, read back by
recovery, ``groundwatch decode`` and replay.

Modules: ``archive.format`` (the on-disk layout), ``archive.writer.FrameArchive``,
``archive.reader`` (``ArchiveReader``, ``list_passes``). Nothing is imported here, so
importing one module stays cheap.
"""
