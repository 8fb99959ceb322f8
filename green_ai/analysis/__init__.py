"""Statistics, tables and figures of the report (thesis §3.3.4, §3.5, §4.4).

`load` (MLflow runs) and `tidy` (a CSV of observations) give the same frames (`runs`);
`stats` computes on arrays; `search_tables`, `factorial_tables` and `inference_tables` turn
the frames into tables with it; `plots` draws what was computed; the `section_*` modules put
tables and figures into report.md (`markdown`), in the order `writer` calls them.
"""
