# Core: status codes and error details, sinks, the thread pool.
sp_add_module(core SOURCES src/core/errors.c src/core/sink.c src/core/pool.c)
