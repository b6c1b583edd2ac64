# Configuration: YAML (libyaml) -> validated sp_config, the embedded default, the writer.
sp_add_module(config SOURCES
    src/config/config_yaml.c
    src/config/config_value.c
    src/config/config_diag.c
    src/config/config_load.c
    src/config/config_struct.c
    src/config/config_analytic.c
    src/config/config_write.c
    src/config/config_default.c
    src/config/config_geometry.c)
list(APPEND SP_CLI_SOURCES cli/cmd_config.c)
