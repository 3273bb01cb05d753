"""Replay recorded passes through the live pipeline.

``recording`` reads files (archive, hex, SatNOGS, KISS, raw), ``source`` paces them on the
recorded time line, ``runner`` builds the pipeline and runs a session, ``expect`` compares the
events raised with an expected list, ``session`` names, lists and deletes sessions.
"""
