/* The subcommands of the dne program; each parses its own flags. */
#ifndef DNE_CLI_COMMANDS_H
#define DNE_CLI_COMMANDS_H

int dne_generate(int argc, char **argv);
int dne_init(int argc, char **argv);
int dne_metrics(int argc, char **argv);
int dne_serve(int argc, char **argv);
int dne_video(int argc, char **argv);
int dne_mix(int argc, char **argv);
int dne_train(int argc, char **argv);
int dne_train_biggan(int argc, char **argv);
int dne_prep(int argc, char **argv);
int dne_import(int argc, char **argv);
int dne_export(int argc, char **argv);

#endif
