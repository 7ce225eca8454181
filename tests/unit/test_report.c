/*
 * test_report.c — the report's counters (report.c), kept by triggers,
 * against a recount from the rows themselves: a worked example with known
 * numbers, thousands of random writes of every kind the writers make
 * (runs' upserts and deletions, REPLACEs, new messages, state changes,
 * deleted messages, rolled-back transactions, `purge --all`), and a data
 * directory from before the counters, which gets them on open.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "celltrace_notify.h"
#include "notifydb.h"
#include "testutil.h"

typedef struct fixture {
    char *dir;
    char data[1024];
    ct_db *db;
    sqlite3 *sql;
} fixture;

static void fixture_open(fixture *f, const char *name)
{
    f->dir = tu_tmpdir(name);
    snprintf(f->data, sizeof f->data, "%s/data", f->dir);
    assert_int_equal(ct_init(f->data, NULL), CT_OK);
    assert_int_equal(ct_open(f->data, 0, &f->db, NULL), CT_OK);
    assert_int_equal(ct__ndb_open(f->data, &f->sql, NULL), CT_OK);
}

static void fixture_close(fixture *f)
{
    sqlite3_close(f->sql);
    ct_close(f->db);
    tu_rmtree(f->dir);
    free(f->dir);
}

static void exec(sqlite3 *sql, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void exec(sqlite3 *sql, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    ct_err err;
    if (ct__ndb_exec(sql, buf, &err) != CT_OK)
        fail_msg("%s: %s", buf, err.msg);
}

/* As runs.c stores a contact: found_day kept from the first store. */
static void put_contact(sqlite3 *sql, const char *case_id, int sub, const char *region,
                        const char *day, const char *level)
{
    exec(sql,
         "INSERT INTO nt_contacts(case_id, subscriber, exposure_s, first_contact, last_contact,"
         " min_radius_m, home_region, quarantine_end, found_at, updated_at, level, found_day)"
         " VALUES('%s', %d, 900, 1, 2, 100, '%s', 3, 4, 4, '%s', '%s')"
         " ON CONFLICT(case_id, subscriber) DO UPDATE SET home_region = excluded.home_region,"
         " level = excluded.level",
         case_id, sub, region, level, day);
}

static int64_t put_message(sqlite3 *sql, int sub, const char *kind)
{
    static int serial;
    exec(sql,
         "INSERT INTO nt_outbox(key, subscriber, kind, case_id, region, last_contact,"
         " quarantine_end, text, ucs2, next_at, created) VALUES('m%d', %d, '%s', 'K1', 'R', 0,"
         " 0, 'hi', 0, 0, 0)",
         ++serial, sub, kind);
    return sqlite3_last_insert_rowid(sql);
}

static void expect_sound(fixture *f)
{
    uint64_t groups, differing;
    ct_err err;
    if (ct_report_check(f->db, &groups, &differing, &err) != CT_OK)
        fail_msg("ct_report_check: %s", err.msg);
    assert_int_equal(differing, 0);
}

typedef struct rows {
    ct_report_row r[8];
    char region[8][16], day[8][16];
    int n;
} rows;

static int collect(void *ud, const ct_report_row *r)
{
    rows *x = ud;
    assert_true(x->n < 8);
    x->r[x->n] = *r;
    snprintf(x->region[x->n], 16, "%s", r->region);
    snprintf(x->day[x->n], 16, "%s", r->day);
    x->n++;
    return 0;
}

static rows report(fixture *f)
{
    rows x = {.n = 0};
    ct_err err;
    if (ct_report(f->db, NULL, collect, &x, &err) != CT_OK)
        fail_msg("ct_report: %s", err.msg);
    return x;
}

/* One subscriber in two cases, a second one, their messages, appeals. */
static void test_worked_example(void **state)
{
    (void)state;
    fixture f;
    fixture_open(&f, "report-example");
    put_contact(f.sql, "K1", 1, "RU-MOW", "2026-11-30", "test");
    put_contact(f.sql, "K2", 1, "RU-MOW", "2026-11-30", "quarantine");
    put_contact(f.sql, "K2", 2, "RU-MOW", "2026-11-30", "none");
    put_contact(f.sql, "K2", 3, "RU-SPE", "2026-12-01", "test");
    rows x = report(&f);
    assert_int_equal(x.n, 2);
    assert_string_equal(x.day[0], "2026-11-30");
    assert_string_equal(x.region[0], "RU-MOW");
    assert_int_equal(x.r[0].cases, 2);
    assert_int_equal(x.r[0].contacts, 2);
    assert_int_equal(x.r[0].quarantine, 1); /* subscriber 1 at its highest level */
    assert_int_equal(x.r[0].test, 0);
    assert_int_equal(x.r[0].none, 1);
    assert_int_equal(x.r[1].cases, 1);
    assert_int_equal(x.r[1].test, 1);
    /* messages: judged by each subscriber's latest */
    int64_t m1 = put_message(f.sql, 1, "new");
    exec(f.sql, "UPDATE nt_outbox SET state = 'sent' WHERE id = %lld", (long long)m1);
    x = report(&f);
    assert_int_equal(x.r[0].notified, 1);
    int64_t m2 = put_message(f.sql, 1, "test");
    x = report(&f);
    assert_int_equal(x.r[0].notified, 0); /* the latest is queued */
    assert_int_equal(x.r[0].invitations, 1);
    exec(f.sql, "UPDATE nt_outbox SET state = 'delivered' WHERE id = %lld", (long long)m2);
    x = report(&f);
    assert_int_equal(x.r[0].notified, 1);
    assert_int_equal(x.r[0].delivered, 1);
    exec(f.sql, "DELETE FROM nt_outbox WHERE id = %lld", (long long)m2);
    x = report(&f);
    assert_int_equal(x.r[0].delivered, 0);
    assert_int_equal(x.r[0].notified, 1); /* back to m1, sent */
    assert_int_equal(x.r[0].invitations, 0);
    /* a contact moves region: both groups change */
    put_contact(f.sql, "K2", 2, "RU-SPE", "2026-11-30", "test");
    x = report(&f);
    assert_int_equal(x.n, 3);
    assert_int_equal(x.r[0].contacts, 1);
    assert_int_equal(x.r[0].none, 0);
    assert_string_equal(x.region[1], "RU-SPE");
    assert_int_equal(x.r[1].contacts, 1);
    /* appeals: filed that day, pending, overdue */
    int64_t now = (int64_t)time(NULL);
    exec(f.sql,
         "INSERT INTO nt_appeals(case_id, subscriber, region, last_contact, reason, filed_by,"
         " filed_at, deadline, state, decided_at) VALUES"
         " ('K2', 3, 'RU-SPE', 2, 'r', 'h', %lld, %lld, 'pending', 0),"
         " ('K2', 3, 'RU-SPE', 2, 'r', 'h', %lld, %lld, 'pending', 0),"
         " ('K2', 3, 'RU-SPE', 2, 'r', 'h', %lld, %lld, 'upheld', %lld),"
         " ('K2', 3, 'RU-SPE', 2, 'r', 'h', %lld, %lld, 'rejected', %lld)",
         (long long)now, (long long)now - 1, (long long)now, (long long)now + 3600,
         (long long)now, (long long)now + 3600, (long long)now + 60, (long long)now,
         (long long)now + 30, (long long)now + 60);
    x = report(&f);
    int appeals_row = -1;
    for (int i = 0; i < x.n; i++)
        if (x.r[i].appeals)
            appeals_row = i;
    assert_true(appeals_row >= 0);
    assert_string_equal(x.region[appeals_row], "RU-SPE");
    assert_int_equal(x.r[appeals_row].appeals, 4);
    assert_int_equal(x.r[appeals_row].appeals_pending, 2);
    assert_int_equal(x.r[appeals_row].appeals_overdue, 2); /* pending past it; decided late */
    /* every contact removed: the groups disappear, the appeals' row stays */
    exec(f.sql, "DELETE FROM nt_contacts");
    x = report(&f);
    for (int i = 0; i < x.n; i++)
        assert_int_equal(x.r[i].contacts, 0);
    expect_sound(&f);
    fixture_close(&f);
}

/* xorshift: the same writes on every run */
static uint32_t rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void random_write(sqlite3 *sql, uint32_t *seed)
{
    static const char *const regions[] = {"RU-MOW", "RU-MOS", "RU-SPE"};
    static const char *const days[] = {"2026-11-29", "2026-11-30", "2026-12-01"};
    static const char *const levels[] = {"none", "test", "quarantine"};
    static const char *const kinds[] = {"new", "test", "area", "extension", "lifted"};
    static const char *const states[] = {"queued", "sent", "delivered", "failed", "expired"};
    char case_id[8];
    snprintf(case_id, sizeof case_id, "K%u", rnd(seed) % 6);
    int sub = (int)(rnd(seed) % 40);
    switch (rnd(seed) % 8) {
    case 0: case 1: case 2:
        put_contact(sql, case_id, sub, regions[rnd(seed) % 3], days[rnd(seed) % 3],
                    levels[rnd(seed) % 3]);
        break;
    case 3:
        exec(sql, "DELETE FROM nt_contacts WHERE case_id = '%s' AND subscriber = %d", case_id,
             sub);
        break;
    case 4: /* as a run drops the contacts later data undid */
        exec(sql, "DELETE FROM nt_contacts WHERE case_id = '%s' AND subscriber %% 7 = %u",
             case_id, rnd(seed) % 7);
        break;
    case 5:
        put_message(sql, sub, kinds[rnd(seed) % 5]);
        break;
    case 6:
        exec(sql, "UPDATE nt_outbox SET state = '%s' WHERE id = (SELECT id FROM nt_outbox"
                  " ORDER BY (id * %u) %% 101 LIMIT 1)",
             states[rnd(seed) % 5], rnd(seed) % 1000 + 1);
        break;
    case 7:
        if (rnd(seed) % 4 == 0) /* a REPLACE deletes the old row: its triggers run too */
            exec(sql,
                 "INSERT OR REPLACE INTO nt_contacts(case_id, subscriber, exposure_s, first_contact,"
                 " last_contact, min_radius_m, home_region, quarantine_end, found_at, updated_at,"
                 " level, found_day) VALUES('%s', %d, 60, 1, 2, 10, '%s', 3, 4, 4, '%s', '%s')",
                 case_id, sub, regions[rnd(seed) % 3], levels[rnd(seed) % 3], days[rnd(seed) % 3]);
        else if (rnd(seed) % 3 == 0)
            exec(sql, "DELETE FROM nt_outbox WHERE id = (SELECT id FROM nt_outbox"
                      " ORDER BY (id * %u) %% 101 LIMIT 1)", rnd(seed) % 1000 + 1);
        else
            exec(sql, "UPDATE nt_contacts SET level = '%s' WHERE subscriber = %d",
                 levels[rnd(seed) % 3], sub);
        break;
    }
}

static void test_random_writes(void **state)
{
    (void)state;
    fixture f;
    fixture_open(&f, "report-random");
    uint32_t seed = 2026;
    for (int tx = 0; tx < 400; tx++) {
        int rollback = rnd(&seed) % 5 == 0, n = 1 + (int)(rnd(&seed) % 12);
        exec(f.sql, "BEGIN IMMEDIATE");
        for (int i = 0; i < n; i++)
            random_write(f.sql, &seed);
        exec(f.sql, rollback ? "ROLLBACK" : "COMMIT");
        expect_sound(&f);
        if (tx % 97 == 96) { /* as `purge --all` empties the tables, in any order */
            static const char *const tables[] = {"nt_day", "nt_outbox", "nt_day_sub",
                                                 "nt_contacts", "nt_latest", "nt_day_case",
                                                 "nt_meta"};
            for (int i = 0; i < 7; i++)
                exec(f.sql, "DELETE FROM %s", tables[(i + tx) % 7]);
            sqlite3_close(f.sql);
            assert_int_equal(ct__ndb_open(f.data, &f.sql, NULL), CT_OK);
            expect_sound(&f);
            assert_int_equal(report(&f).n, 0);
        }
    }
    rows x = report(&f);
    assert_true(x.n > 0); /* the writes left something to count */
    /* a message cannot change hands: the counters follow it by subscriber */
    int64_t m = put_message(f.sql, 1, "new");
    char upd[128];
    snprintf(upd, sizeof upd, "UPDATE nt_outbox SET subscriber = 2 WHERE id = %lld", (long long)m);
    assert_int_not_equal(ct__ndb_exec(f.sql, upd, NULL), CT_OK);
    expect_sound(&f);
    fixture_close(&f);
}

/* A data directory from before the counters: no found_day column, no
 * tables, triggers or page indexes. */
static void test_older_directory(void **state)
{
    (void)state;
    fixture f;
    fixture_open(&f, "report-old");
    put_contact(f.sql, "K1", 1, "RU-MOW", "2026-11-30", "test");
    put_contact(f.sql, "K1", 2, "RU-MOW", "2026-11-30", "quarantine");
    int64_t m = put_message(f.sql, 2, "new");
    exec(f.sql, "UPDATE nt_outbox SET state = 'delivered' WHERE id = %lld", (long long)m);
    rows before = report(&f);
    static const char *const triggers[] = {
        "nt_day_sub_added",      "nt_day_sub_changed",       "nt_day_sub_removed",
        "nt_day_case_added",     "nt_day_case_changed",      "nt_day_case_removed",
        "nt_latest_added",       "nt_latest_changed",        "nt_latest_removed",
        "nt_outbox_latest_added", "nt_outbox_latest_changed", "nt_outbox_latest_removed",
        "nt_contacts_day_added", "nt_contacts_day_changed",  "nt_contacts_day_removed"};
    for (size_t i = 0; i < sizeof triggers / sizeof *triggers; i++)
        exec(f.sql, "DROP TRIGGER %s", triggers[i]);
    exec(f.sql, "DROP TRIGGER nt_outbox_fixed; DROP INDEX nt_contacts_rank;"
                " DROP INDEX nt_contacts_level;"
                " DROP TABLE nt_day; DROP TABLE nt_day_sub; DROP TABLE nt_day_case;"
                " DROP TABLE nt_latest; DROP TABLE nt_meta;"
                " ALTER TABLE nt_contacts DROP COLUMN found_day;"
                " UPDATE nt_contacts SET found_at = %lld",
         (long long)1764504000); /* 2025-11-30 12:00 UTC: Moscow's day too */
    sqlite3_close(f.sql);
    assert_int_equal(ct__ndb_open(f.data, &f.sql, NULL), CT_OK);
    sqlite3_stmt *st;
    assert_int_equal(ct__ndb_prepare(f.sql, "SELECT count(*) FROM sqlite_master WHERE name IN"
                                     " ('nt_contacts_rank', 'nt_contacts_level', 'nt_outbox_fixed')",
                                     &st, NULL), CT_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 3); /* made again on open */
    sqlite3_finalize(st);
    rows after = report(&f);
    assert_int_equal(after.n, 1);
    assert_string_equal(after.day[0], "2025-11-30"); /* from found_at, in the zone */
    assert_int_equal(after.r[0].contacts, before.r[0].contacts);
    assert_int_equal(after.r[0].quarantine, 1);
    assert_int_equal(after.r[0].delivered, 1);
    expect_sound(&f);
    fixture_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worked_example),
        cmocka_unit_test(test_random_writes),
        cmocka_unit_test(test_older_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
