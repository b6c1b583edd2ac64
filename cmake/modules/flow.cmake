# Flows: the sp_flow container, analytic flows and their parameters.
sp_add_module(flow SOURCES src/flow/flow.c src/flow/analytic.c src/flow/analytic_random.c src/flow/flow_filter.c)
# analytic.c's Lamb-Oseen rows use flow_v4.h's 4-lane double helpers (see its map).
set_source_files_properties(src/flow/analytic.c PROPERTIES COMPILE_OPTIONS "-Wno-psabi")
