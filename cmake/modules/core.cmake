# Core: status codes and error details, sinks, the thread pool, the dtype table, the version,
# CRC32C and the file-system layer (sp_fs and the durable-file helpers).
sp_add_module(core SOURCES src/core/errors.c src/core/sink.c src/core/pool.c src/core/dtype.c
    src/core/version.c src/core/crc32c.c src/core/fs.c src/core/fs_file.c src/core/fmap.c)
