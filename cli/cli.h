/* cli.h: the synthpix sub-commands. Each lives in its own cli/cmd_*.c and returns the
 * process exit code: 0 success, 1 runtime error, 2 usage or configuration error. */
#ifndef SP_CLI_H
#define SP_CLI_H

#define SP_EXIT_OK 0
#define SP_EXIT_RUNTIME 1
#define SP_EXIT_USAGE 2

typedef struct sp_cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the sub-command name */
} sp_cli_command;

int sp_cmd_config(int argc, char **argv);
int sp_cmd_generate(int argc, char **argv);
/* `generate` with every file operation through fs (NULL = POSIX): the fault-injection
 * tests run the real command over a failing file system. */
struct sp_fs;
int sp_cmd_generate_fs(int argc, char **argv, const struct sp_fs *fs);
/* `generate` as one rank of a group (synthpix-mpi; NULL = one process); node_ranks ranks
 * share this machine, so "all cores" (threads 0) means its cores / node_ranks. */
struct sp_group;
int sp_cmd_generate_group(int argc, char **argv, const struct sp_fs *fs, const struct sp_group *group,
                          unsigned node_ranks);
int sp_cmd_bench(int argc, char **argv);

int sp_cmd_ckpt(int argc, char **argv);
/* `preview`: one PNG showing a pair; without libcairo (SP_HAVE_CAIRO 0) it says so. */
int sp_cmd_preview(int argc, char **argv);

#endif /* SP_CLI_H */
