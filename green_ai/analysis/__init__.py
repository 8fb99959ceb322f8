"""Statistics, tables and figures of the report (thesis §3.3.4, §3.5, §4.4).

`stats` computes on arrays, `tables` turns tracked runs into tables with it, `plots` draws
what was computed, `writer` puts them into report.md.
"""
