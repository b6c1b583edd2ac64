# Flows: the sp_flow container, analytic flows and their parameters.
sp_add_module(flow SOURCES src/flow/flow.c src/flow/analytic.c src/flow/analytic_random.c src/flow/flow_filter.c)
