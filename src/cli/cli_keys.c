/*
 * cli_keys.c — gathering what unlocks a data directory's keys: the
 * passphrase (from --passphrase-fd, the environment variable named by
 * keys.passphrase_env, or a prompt on the terminal, in that order; never
 * from the command line) and $CREDENTIALS_DIRECTORY. The library reads
 * neither the environment nor the terminal; this file does, once per
 * process, and hands the result over as a ct_key_source.
 *
 * Passphrases are read into page-locked buffers and wiped at exit.
 */
#define _GNU_SOURCE /* explicit_bzero */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"

#define PASS_CAP 1024

typedef struct secret_buf {
    char text[PASS_CAP];
    size_t len;
    int locked;
} secret_buf;

static secret_buf current_pass, new_pass, confirm_pass;

static void wipe(secret_buf *b)
{
    explicit_bzero(b->text, sizeof b->text);
    b->len = 0;
    if (b->locked)
        munlock(b, sizeof *b);
    b->locked = 0;
}

void cli_keys_wipe(cli_ctx *ctx)
{
    ct_keys_close(ctx->keys);
    ctx->keys = NULL;
    wipe(&current_pass);
    wipe(&new_pass);
    wipe(&confirm_pass);
}

static void lock_buf(secret_buf *b)
{
    if (!b->locked)
        b->locked = mlock(b, sizeof *b) == 0;
}

/* Drops one trailing newline (and a CR before it). */
static void chomp(secret_buf *b)
{
    if (b->len && b->text[b->len - 1] == '\n')
        b->len--;
    if (b->len && b->text[b->len - 1] == '\r')
        b->len--;
    b->text[b->len] = '\0';
}

/* Reads the passphrase from descriptor fd up to EOF or the first newline. */
static int read_fd(int fd, secret_buf *b)
{
    lock_buf(b);
    b->len = 0;
    for (;;) {
        char c;
        ssize_t n = read(fd, &c, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || c == '\n')
            break;
        if (b->len + 1 >= PASS_CAP) {
            cli_error("the passphrase on descriptor %d is longer than %d bytes", fd, PASS_CAP - 1);
            return -1;
        }
        b->text[b->len++] = c;
    }
    chomp(b);
    return 0;
}

/* Asks on /dev/tty with echo off; -1 when there is no terminal. */
static int prompt_tty(const char *question, secret_buf *b)
{
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct termios old, quiet;
    int restore = tcgetattr(fd, &old) == 0;
    if (restore) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        quiet.c_lflag |= ECHONL;
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    ssize_t w = write(fd, question, strlen(question));
    (void)w;
    int rc = read_fd(fd, b);
    if (restore)
        tcsetattr(fd, TCSAFLUSH, &old);
    close(fd);
    return rc;
}

/* One passphrase from fd (>= 0), the variable env (non-empty), or the
 * terminal (asked twice when confirm). 1 = got one, 0 = no source, -1 =
 * error (printed). */
static int gather(int fd, const char *env, const char *question, int confirm, secret_buf *b)
{
    if (fd >= 0)
        return read_fd(fd, b) ? -1 : 1;
    const char *v = env && *env ? getenv(env) : NULL;
    if (v) {
        lock_buf(b);
        size_t n = strlen(v);
        if (n >= PASS_CAP) {
            cli_error("$%s is longer than %d bytes", env, PASS_CAP - 1);
            return -1;
        }
        memcpy(b->text, v, n + 1);
        b->len = n;
        return 1;
    }
    if (!isatty(STDIN_FILENO))
        return 0;
    if (prompt_tty(question, b))
        return 0;
    if (confirm) {
        if (prompt_tty("Again: ", &confirm_pass))
            return 0;
        int same = confirm_pass.len == b->len && !memcmp(confirm_pass.text, b->text, b->len);
        wipe(&confirm_pass);
        if (!same) {
            cli_error("the two passphrases differ");
            return -1;
        }
    }
    return 1;
}

int cli_new_passphrase(int fd, const char *env, ct_key_source *src)
{
    int got = gather(fd, env, "New passphrase: ", 1, &new_pass);
    if (got < 0)
        return -1;
    if (!got) {
        cli_error("a passphrase is needed: give it on a descriptor (--passphrase-fd N), in an "
                  "environment variable (--passphrase-env NAME) or at a terminal");
        return -1;
    }
    if (new_pass.len < 12) {
        cli_error("the passphrase must have at least 12 characters");
        return -1;
    }
    src->passphrase = new_pass.text;
    src->passphrase_len = new_pass.len;
    return 0;
}

int cli_key_source(cli_ctx *ctx, ct_key_source *src)
{
    memset(src, 0, sizeof *src);
    ct_keys_where w;
    ct_err err;
    if (ct_keys_where_of(ctx->data_dir, &w, &err) != CT_OK) {
        cli_error("%s", err.msg);
        return -1;
    }
    src->credentials_dir = getenv("CREDENTIALS_DIRECTORY");
    if (w.provider != CT_KEYS_PASSPHRASE)
        return 0;
    char question[700];
    snprintf(question, sizeof question, "Passphrase for %s: ", ctx->data_dir);
    int got = gather(ctx->passphrase_fd, w.passphrase_env, question, 0, &current_pass);
    if (got < 0)
        return -1;
    if (got) {
        src->passphrase = current_pass.text;
        src->passphrase_len = current_pass.len;
    }
    return 0; /* none: the library says what is missing */
}

ct_keyring *cli_keys(cli_ctx *ctx)
{
    if (ctx->keys)
        return ctx->keys;
    ct_key_source src;
    if (cli_key_source(ctx, &src))
        return NULL;
    ct_err err;
    if (ct_keys_unlock(ctx->data_dir, &src, &ctx->keys, &err) != CT_OK) {
        cli_error("%s", err.msg);
        ctx->keys = NULL;
    }
    wipe(&current_pass); /* the handle keeps its own locked copy */
    return ctx->keys;
}
